//! `feast.serving.GetOnlineFeaturesResponse.FeatureVector` as the server writes it: one
//! column of a read, encoded straight from the core's values, statuses and timestamps into one
//! buffer.
//!
//! The generated message would hold a `WireValue` and a `Timestamp` per row, built, then
//! walked by prost once to measure each nested message and again to write it, then dropped:
//! for a read of 100 rows and 3 features, 800 small structs per response. Here a column is
//! written once, in the field order and the encoding prost uses (the tests compare the bytes
//! with prost's for the same column), and the response message carries the bytes.
//! build.rs maps the type for the server's messages only; clients decode responses with the
//! generated message (`proto::client`).

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint};

use crate::types::Value;
use crate::types::value_proto::{ValueProtoError, encode_untyped_value, put_len_field};

/// The field numbers of `FeatureVector`.
const VALUES: u32 = 1;
const STATUSES: u32 = 2;
const EVENT_TIMESTAMPS: u32 = 3;

/// One encoded `FeatureVector` message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedFeatureVector {
    bytes: Bytes,
}

impl EncodedFeatureVector {
    /// The message for one column: `values[i]` (encoded as [`crate::proto::WireValue::encode`]
    /// does), `statuses[i]` (`FieldStatus` numbers) and `event_ts_micros[i]` (microseconds
    /// since the epoch, as a `Timestamp`) for each row.
    pub fn encode(
        values: &[Value],
        statuses: impl Iterator<Item = i32> + Clone,
        event_ts_micros: &[i64],
    ) -> Result<EncodedFeatureVector, ValueProtoError> {
        // About 20 bytes a row (a value, its status, its timestamp): one allocation for most
        // columns.
        let mut out = Vec::with_capacity(values.len() * 20 + 4 + event_ts_micros.len() * 12);
        let mut value = Vec::with_capacity(16);
        for v in values {
            value.clear();
            encode_untyped_value(v, &mut value)?;
            put_len_field(u64::from(VALUES), &value, &mut out);
        }
        // Packed, as proto3 writes a repeated enum; not at all when empty.
        let len: usize = statuses
            .clone()
            .map(|s| encoded_len_varint(i64::from(s) as u64))
            .sum();
        if len > 0 {
            encode_key(STATUSES, WireType::LengthDelimited, &mut out);
            encode_varint(len as u64, &mut out);
            for s in statuses {
                encode_varint(i64::from(s) as u64, &mut out);
            }
        }
        for &micros in event_ts_micros {
            let (seconds, nanos) = timestamp(micros);
            // `Timestamp` fields with their default value (0) are not written.
            let mut len = 0;
            if seconds != 0 {
                len += 1 + encoded_len_varint(seconds as u64);
            }
            if nanos != 0 {
                len += 1 + encoded_len_varint(i64::from(nanos) as u64);
            }
            encode_key(EVENT_TIMESTAMPS, WireType::LengthDelimited, &mut out);
            encode_varint(len as u64, &mut out);
            if seconds != 0 {
                encode_key(1, WireType::Varint, &mut out);
                encode_varint(seconds as u64, &mut out);
            }
            if nanos != 0 {
                encode_key(2, WireType::Varint, &mut out);
                encode_varint(i64::from(nanos) as u64, &mut out);
            }
        }
        Ok(EncodedFeatureVector {
            bytes: Bytes::from(out),
        })
    }

    /// The encoded message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A `Timestamp`'s seconds and nanos for microseconds since the epoch (nanos in 0..1e9).
pub fn timestamp(micros: i64) -> (i64, i32) {
    let nanos = micros.rem_euclid(1_000_000) * 1000;
    // In 0..1e9 by construction.
    (micros.div_euclid(1_000_000), nanos as i32)
}

impl prost::Message for EncodedFeatureVector {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }

    /// Keeps each field as it came (the server never reads one of these; a client decodes the
    /// generated message instead), so that a decoded message encodes to the same bytes.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        let mut field = self.bytes.to_vec();
        match wire_type {
            WireType::Varint => {
                let v = prost::encoding::decode_varint(buf)?;
                encode_key(tag, wire_type, &mut field);
                encode_varint(v, &mut field);
            }
            WireType::LengthDelimited => {
                let mut payload = Bytes::new();
                prost::encoding::bytes::merge(wire_type, &mut payload, buf, ctx)?;
                put_len_field(u64::from(tag), &payload, &mut field);
            }
            // No field of a FeatureVector has another wire type: skipped as unknown.
            _ => {
                prost::encoding::skip_field(wire_type, tag, buf, ctx)?;
                return Ok(());
            }
        }
        self.bytes = Bytes::from(field);
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes = Bytes::new();
    }
}

#[cfg(test)]
#[path = "feature_vector_tests.rs"]
mod tests;
