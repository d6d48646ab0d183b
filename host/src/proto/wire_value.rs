//! `feast.types.Value` inside generated messages, kept as its encoded bytes.
//!
//! The generated gRPC messages hold `WireValue` where Feast's `.proto` says `Value`
//! (build.rs maps the type). Decoding a request copies each value's fields verbatim; reading
//! them is [`WireValue::value`], with the same hand-written codec the online stores use
//! (`types::value_proto`), so there is one reading of Feast's Value format and its limits
//! (nesting depth, unsupported kinds named) hold on every path. Encoding a response writes
//! bytes made once by [`WireValue::encode`].

use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};

use crate::types::value_proto::{ValueProtoError, decode_value, encode_untyped_value};
use crate::types::{DType, Value};

/// One `feast.types.Value` message, as bytes (empty: a null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireValue {
    bytes: Vec<u8>,
}

impl WireValue {
    /// The message for `value`, in the kind its variant says (a list by its elements' kind,
    /// as Feast infers for values with no declared type). Fails only for a list that mixes
    /// element kinds, which no Feast list can hold, or a value nested too deep.
    pub fn encode(value: &Value) -> Result<WireValue, ValueProtoError> {
        let mut bytes = Vec::new();
        encode_untyped_value(value, &mut bytes)?;
        Ok(WireValue { bytes })
    }

    /// The message for `value` written as a feature of type `dtype`.
    pub fn encode_as(value: &Value, dtype: &DType) -> Result<WireValue, ValueProtoError> {
        let mut bytes = Vec::new();
        crate::types::value_proto::encode_value(value, dtype, &mut bytes)?;
        Ok(WireValue { bytes })
    }

    /// The value the message holds.
    pub fn value(&self) -> Result<Value, ValueProtoError> {
        decode_value(&self.bytes, None)
    }

    /// The encoded message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl prost::Message for WireValue {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        use prost::encoding::{bytes, encode_key, encode_varint, fixed32, fixed64};
        // Each field is copied as it came (key, then payload); which fields a Value may have,
        // and what they mean, is the codec's to judge when the value is read.
        match wire_type {
            WireType::Varint => {
                let v = prost::encoding::decode_varint(buf)?;
                encode_key(tag, wire_type, &mut self.bytes);
                encode_varint(v, &mut self.bytes);
            }
            WireType::SixtyFourBit => {
                let mut v = 0u64;
                fixed64::merge(wire_type, &mut v, buf, ctx)?;
                encode_key(tag, wire_type, &mut self.bytes);
                self.bytes.extend_from_slice(&v.to_le_bytes());
            }
            WireType::ThirtyTwoBit => {
                let mut v = 0u32;
                fixed32::merge(wire_type, &mut v, buf, ctx)?;
                encode_key(tag, wire_type, &mut self.bytes);
                self.bytes.extend_from_slice(&v.to_le_bytes());
            }
            WireType::LengthDelimited => {
                let mut payload: Vec<u8> = Vec::new();
                bytes::merge(wire_type, &mut payload, buf, ctx)?;
                encode_key(tag, wire_type, &mut self.bytes);
                encode_varint(payload.len() as u64, &mut self.bytes);
                self.bytes.extend_from_slice(&payload);
            }
            // Groups are not part of proto3; skipped like any unknown field.
            WireType::StartGroup | WireType::EndGroup => {
                prost::encoding::skip_field(wire_type, tag, buf, ctx)?;
            }
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
    }
}

#[cfg(test)]
#[path = "wire_value_tests.rs"]
mod tests;
