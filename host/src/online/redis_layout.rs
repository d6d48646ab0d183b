//! Feast's Redis layout, byte for byte (docs/feast-compat.md#redis-online-store-layout):
//! what the keys, the hash fields and the timestamp values of a Redis that `feast materialize`
//! filled look like, so that edgefeat reads and writes the same bytes.
//!
//! - **Key**: the entity key (serialization v3) followed by the project name's UTF-8 bytes,
//!   with no separator. One hash per entity and project, shared by every view with the same
//!   join keys.
//! - **Feature field**: the 4 bytes of MurmurHash3 (x86, 32-bit, seed 0) of
//!   `"<view>:<feature>"`, little-endian.
//! - **Timestamp field**: `_ts:<view>`, one per view and key, holding the event time as a
//!   serialized `google.protobuf.Timestamp` (seconds = 1, nanos = 2). The created time is not
//!   kept.
//! - **Value**: the serialized `feast.types.Value`; a null is the empty string.

use anyhow::{Result, bail};

/// The Redis key of an entity in a project.
pub fn redis_key(entity_key: &[u8], project: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(entity_key.len() + project.len());
    key.extend_from_slice(entity_key);
    key.extend_from_slice(project.as_bytes());
    key
}

/// The hash field of a feature of a view.
pub fn feature_field(view: &str, feature: &str) -> [u8; 4] {
    let mut text = Vec::with_capacity(view.len() + 1 + feature.len());
    text.extend_from_slice(view.as_bytes());
    text.push(b':');
    text.extend_from_slice(feature.as_bytes());
    murmur3_32(&text, 0).to_le_bytes()
}

/// The hash field holding a view's event timestamp.
pub fn ts_field(view: &str) -> Vec<u8> {
    let mut field = Vec::with_capacity(4 + view.len());
    field.extend_from_slice(b"_ts:");
    field.extend_from_slice(view.as_bytes());
    field
}

/// The prefix every key of an entity with these join keys starts with: the key count and
/// the sorted names, as serialization v3 writes them before the values.
pub fn key_prefix(join_keys: &[&str]) -> Vec<u8> {
    let mut names: Vec<&str> = join_keys.to_vec();
    names.sort_unstable();
    let mut out = Vec::with_capacity(4 + names.len() * 16);
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for name in names {
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out
}

/// Whether `key` is exactly an entity of these join keys in `project`: a scan by prefix and
/// suffix (`<prefix>*<project>`, which is Feast's) also matches keys of a project whose name
/// ends with this one's, and those are not ours to delete.
pub fn is_entity_of(key: &[u8], join_keys: &[&str], project: &str) -> bool {
    let Some(entity) = key.strip_suffix(project.as_bytes()) else {
        return false;
    };
    let Ok(pairs) = crate::types::deserialize_entity_key(entity) else {
        return false;
    };
    let mut want: Vec<&str> = join_keys.to_vec();
    want.sort_unstable();
    pairs.len() == want.len() && pairs.iter().zip(&want).all(|((n, _), w)| n == w)
}

/// MurmurHash3_x86_32, the hash Feast's `mmh3.hash(s, signed=False)` computes.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    let mut k = 0u32;
    for (i, &b) in tail.iter().enumerate() {
        k |= u32::from(b) << (8 * i);
    }
    if !tail.is_empty() {
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Seconds and nanoseconds of a time in microseconds since the epoch, as a `Timestamp` holds
/// them (nanos always in 0..1e9, also before the epoch).
pub fn seconds_nanos(micros: i64) -> (i64, i32) {
    (
        micros.div_euclid(1_000_000),
        (micros.rem_euclid(1_000_000) * 1000) as i32,
    )
}

/// A serialized `google.protobuf.Timestamp`; proto3 leaves zero fields out.
pub fn encode_timestamp(micros: i64) -> Vec<u8> {
    let (seconds, nanos) = seconds_nanos(micros);
    let mut out = Vec::with_capacity(12);
    if seconds != 0 {
        out.push(0x08);
        varint(seconds as u64, &mut out);
    }
    if nanos != 0 {
        out.push(0x10);
        varint(nanos as u64, &mut out);
    }
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a serialized `Timestamp` back, in microseconds (sub-microsecond nanos truncated);
/// the empty value is the epoch, as for Feast.
pub fn decode_timestamp(bytes: &[u8]) -> Result<i64> {
    let (mut seconds, mut nanos, mut at) = (0i64, 0i64, 0usize);
    while at < bytes.len() {
        let tag = bytes[at];
        at += 1;
        let wire = tag & 7;
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let Some(&b) = bytes.get(at) else {
                bail!("a timestamp value is cut short");
            };
            at += 1;
            if shift >= 64 {
                bail!("a timestamp value holds an overlong varint");
            }
            value |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        if wire != 0 {
            bail!("a timestamp value holds field tag {tag:#04x}, which is not a varint");
        }
        match tag >> 3 {
            1 => seconds = value as i64,
            // int32 nanos; a negative one is sign-extended to 10 bytes.
            2 => nanos = i64::from(value as i32),
            _ => {}
        }
    }
    if !(0..1_000_000_000).contains(&nanos) {
        bail!("a timestamp value holds {nanos} nanoseconds, outside 0..1e9");
    }
    Ok(seconds
        .saturating_mul(1_000_000)
        .saturating_add(nanos / 1000))
}

/// The write of one row, atomic in Redis, with Feast's rule that only a strictly newer event
/// overwrites: the stored `_ts:<view>` is compared as (seconds, nanos); an equal or newer
/// one keeps the row, and then the key's expiry is not refreshed either.
///
/// KEYS[1] the entity's hash; ARGV[1] the timestamp field; ARGV[2], ARGV[3] the row's
/// seconds and nanos; ARGV[4] the key's ttl in seconds (0: none); ARGV[5..] field, value
/// pairs, the timestamp field's among them. Answers 1 when written, 0 when kept.
///
/// Lua numbers are doubles: seconds and nanos are exact in them; a stored time before the
/// epoch (a 10-byte varint) is read to within 2^11 seconds, which only matters for two
/// writes of pre-1970 events less than half an hour apart.
pub const WRITE_SCRIPT: &str = r#"
local function stamp(s)
  local sec, nano, i, n = 0, 0, 1, #s
  while i <= n do
    local tag = string.byte(s, i)
    i = i + 1
    local v, mul = 0, 1
    while true do
      local b = string.byte(s, i)
      if b == nil then return nil end
      i = i + 1
      v = v + (b % 128) * mul
      if b < 128 then break end
      mul = mul * 128
    end
    if tag == 8 then sec = v elseif tag == 16 then nano = v end
  end
  if sec >= 9223372036854775808 then sec = sec - 18446744073709551616 end
  return sec, nano
end
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and #old > 0 then
  local sec, nano = stamp(old)
  local new_sec, new_nano = tonumber(ARGV[2]), tonumber(ARGV[3])
  if sec ~= nil and (sec > new_sec or (sec == new_sec and nano >= new_nano)) then
    return 0
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"#;

#[cfg(test)]
#[path = "redis_layout_tests.rs"]
mod tests;
