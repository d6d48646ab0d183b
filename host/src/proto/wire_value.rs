//! `feast.types.Value` inside generated messages, kept as its encoded bytes.
//!
//! The generated gRPC messages hold `WireValue` where Feast's `.proto` says `Value`
//! (build.rs maps the type). Decoding a request copies each value's fields verbatim; reading
//! them is [`WireValue::value`], with the same hand-written codec the online stores use
//! (`types::value_proto`), so there is one reading of Feast's Value format and its limits
//! (nesting depth, unsupported kinds named) hold on every path. A client's request writes
//! bytes made once by [`WireValue::encode`]; the server writes a response's values straight
//! into their column (`proto::EncodedFeatureVector`). A message of up to 23 bytes (every
//! number, bool, timestamp and short string: what a request's entity keys are) is held inline,
//! so decoding a request of 100 keys allocates nothing per key; on 2 cores under load the
//! allocations, freed on another worker than the one that made them, contend for glibc's arena
//! locks.

use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

use crate::types::value_proto::{ValueProtoError, decode_value, encode_untyped_value};
use crate::types::{DType, Value};

/// One `feast.types.Value` message, as bytes (empty: a null).
#[derive(Debug, Clone)]
pub struct WireValue {
    bytes: Repr,
}

/// The largest message held inline.
const INLINE: usize = 23;

#[derive(Debug, Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Bytes),
}

impl Repr {
    fn new(bytes: &[u8]) -> Repr {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            // At most INLINE (23).
            Repr::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Repr::Shared(Bytes::copy_from_slice(bytes))
        }
    }

    fn empty() -> Repr {
        Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        }
    }
}

impl std::ops::Deref for Repr {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

impl Default for WireValue {
    fn default() -> WireValue {
        WireValue {
            bytes: Repr::empty(),
        }
    }
}

impl PartialEq for WireValue {
    fn eq(&self, other: &WireValue) -> bool {
        *self.bytes == *other.bytes
    }
}

impl Eq for WireValue {}

impl WireValue {
    /// The message for `value`, in the kind its variant says (a list by its elements' kind,
    /// as Feast infers for values with no declared type). Fails only for a list that mixes
    /// element kinds, which no Feast list can hold, or a value nested too deep.
    pub fn encode(value: &Value) -> Result<WireValue, ValueProtoError> {
        let mut bytes = Vec::new();
        encode_untyped_value(value, &mut bytes)?;
        Ok(WireValue {
            bytes: Repr::new(&bytes),
        })
    }

    /// The message for `value` written as a feature of type `dtype`.
    pub fn encode_as(value: &Value, dtype: &DType) -> Result<WireValue, ValueProtoError> {
        let mut bytes = Vec::new();
        crate::types::value_proto::encode_value(value, dtype, &mut bytes)?;
        Ok(WireValue {
            bytes: Repr::new(&bytes),
        })
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
        use prost::encoding::{encode_key, encode_varint, fixed32, fixed64};
        // Each field is copied as it came (key, then payload); which fields a Value may have,
        // and what they mean, is the codec's to judge when the value is read. A Value has one
        // field (its oneof): a scalar one is framed on the stack and kept inline, so decoding
        // a request's keys allocates nothing per key.
        // A key (up to 5 bytes) and a varint (up to 10) or a fixed64 fit.
        const SMALL: usize = 24;
        let mut small = [0u8; SMALL];
        let mut large = Vec::new();
        let field: &[u8] = match wire_type {
            WireType::Varint | WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                let mut out: &mut [u8] = &mut small;
                encode_key(tag, wire_type, &mut out);
                match wire_type {
                    WireType::Varint => {
                        encode_varint(prost::encoding::decode_varint(buf)?, &mut out)
                    }
                    WireType::SixtyFourBit => {
                        let mut v = 0u64;
                        fixed64::merge(wire_type, &mut v, buf, ctx)?;
                        out.put_slice(&v.to_le_bytes());
                    }
                    _ => {
                        let mut v = 0u32;
                        fixed32::merge(wire_type, &mut v, buf, ctx)?;
                        out.put_slice(&v.to_le_bytes());
                    }
                }
                let used = SMALL - out.len();
                &small[..used]
            }
            WireType::LengthDelimited => {
                // Into `Bytes`: no copy when the request buffer is `Bytes` already.
                let mut payload = Bytes::new();
                prost::encoding::bytes::merge(wire_type, &mut payload, buf, ctx)?;
                // A short string is framed on the stack, as a scalar is.
                let framed = prost::encoding::key_len(tag)
                    + prost::encoding::encoded_len_varint(payload.len() as u64)
                    + payload.len();
                if framed <= SMALL {
                    let mut out: &mut [u8] = &mut small;
                    encode_key(tag, wire_type, &mut out);
                    encode_varint(payload.len() as u64, &mut out);
                    out.put_slice(&payload);
                    let used = SMALL - out.len();
                    &small[..used]
                } else {
                    large.reserve_exact(payload.len() + 15);
                    encode_key(tag, wire_type, &mut large);
                    encode_varint(payload.len() as u64, &mut large);
                    large.extend_from_slice(&payload);
                    if self.bytes.is_empty()
                        && large.len() > INLINE
                        && large.len() == large.capacity()
                    {
                        self.bytes = Repr::Shared(Bytes::from(large));
                        return Ok(());
                    }
                    &large
                }
            }
            // Groups are not part of proto3; skipped like any unknown field.
            WireType::StartGroup | WireType::EndGroup => {
                prost::encoding::skip_field(wire_type, tag, buf, ctx)?;
                return Ok(());
            }
        };
        self.bytes = if self.bytes.is_empty() {
            Repr::new(field)
        } else {
            let mut all = Vec::with_capacity(self.bytes.len() + field.len());
            all.extend_from_slice(&self.bytes);
            all.extend_from_slice(field);
            Repr::new(&all)
        };
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes = Repr::empty();
    }
}

#[cfg(test)]
#[path = "wire_value_tests.rs"]
mod tests;
