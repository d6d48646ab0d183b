//! The numbers of Feast's `Value` schema (`feast/types/Value.proto`, Feast 0.67): the oneof
//! fields of `feast.types.Value`, the fields of its list and map messages, and the kinds Feast
//! defines that edgefeat refuses by name. Shared by the encoder and the decoder, so that the two
//! directions cannot disagree on a number.

// The oneof fields of `feast.types.Value`.
pub(super) const BYTES: u64 = 1;
pub(super) const STRING: u64 = 2;
pub(super) const INT32: u64 = 3;
pub(super) const INT64: u64 = 4;
pub(super) const DOUBLE: u64 = 5;
pub(super) const FLOAT: u64 = 6;
pub(super) const BOOL: u64 = 7;
pub(super) const UNIX_TIMESTAMP: u64 = 8;
pub(super) const BYTES_LIST: u64 = 11;
pub(super) const STRING_LIST: u64 = 12;
pub(super) const INT32_LIST: u64 = 13;
pub(super) const INT64_LIST: u64 = 14;
pub(super) const DOUBLE_LIST: u64 = 15;
pub(super) const FLOAT_LIST: u64 = 16;
pub(super) const BOOL_LIST: u64 = 17;
pub(super) const UNIX_TIMESTAMP_LIST: u64 = 18;
pub(super) const NULL: u64 = 19;
pub(super) const MAP: u64 = 20;
pub(super) const MAP_LIST: u64 = 21;
pub(super) const JSON: u64 = 32;
pub(super) const JSON_LIST: u64 = 33;
pub(super) const STRUCT: u64 = 34;
pub(super) const STRUCT_LIST: u64 = 35;
pub(super) const LIST: u64 = 42;

/// The field of every list, `Map` and `MapList` message, and the key of a map entry.
pub(super) const VAL: u64 = 1;
/// The value of a map entry.
pub(super) const ENTRY_VALUE: u64 = 2;

/// What Feast's writers put for a null timestamp in a list (pandas' NaT as an integer); its
/// readers turn it back into `None`.
pub(super) const NULL_TIMESTAMP: i64 = i64::MIN;

/// The Feast-defined kinds edgefeat has no dtype for, by field number.
pub(super) fn unsupported(field: u64) -> Option<(&'static str, &'static str)> {
    Some(match field {
        22 => ("bytes_set_val", "BYTES_SET"),
        23 => ("string_set_val", "STRING_SET"),
        24 => ("int32_set_val", "INT32_SET"),
        25 => ("int64_set_val", "INT64_SET"),
        26 => ("double_set_val", "DOUBLE_SET"),
        27 => ("float_set_val", "FLOAT_SET"),
        28 => ("bool_set_val", "BOOL_SET"),
        29 => ("unix_timestamp_set_val", "UNIX_TIMESTAMP_SET"),
        36 => ("uuid_val", "UUID"),
        37 => ("time_uuid_val", "TIME_UUID"),
        38 => ("uuid_list_val", "UUID_LIST"),
        39 => ("time_uuid_list_val", "TIME_UUID_LIST"),
        40 => ("uuid_set_val", "UUID_SET"),
        41 => ("time_uuid_set_val", "TIME_UUID_SET"),
        43 => ("set_val", "VALUE_SET"),
        44 => ("decimal_val", "DECIMAL"),
        45 => ("decimal_list_val", "DECIMAL_LIST"),
        46 => ("decimal_set_val", "DECIMAL_SET"),
        47 => ("scalar_map_val", "SCALAR_MAP"),
        48 => ("zoned_timestamp_val", "ZONED_TIMESTAMP"),
        _ => return None,
    })
}
