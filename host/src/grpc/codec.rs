//! The generated services' codec: prost's, except that a request which does not decode is the
//! caller's mistake. tonic's prost codec answers it INTERNAL ("failed to decode Protobuf
//! message"), which tells a client the server failed and invites a retry of the same bytes;
//! INVALID_ARGUMENT, with the same message, is what the call deserves and what the HTTP front's
//! 422 for malformed JSON says.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] with decode failures as INVALID_ARGUMENT; named by `build.rs` as the codec
/// of every generated service and client.
#[derive(Debug, Clone)]
pub struct FeastCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for FeastCodec<T, U> {
    fn default() -> Self {
        FeastCodec { _pd: PhantomData }
    }
}

impl<T, U> tonic::codec::Codec for FeastCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = FeastDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> FeastDecoder<U> {
        FeastDecoder(ProstCodec::<T, U>::raw_decoder(BufferSettings::default()))
    }
}

/// Prost's decoder, with its failures re-coded.
#[derive(Debug)]
pub struct FeastDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for FeastDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(src).map_err(|e| match e.code() {
            // The only failure prost's decoder has: the bytes are not the message.
            Code::Internal => Status::invalid_argument(e.message()),
            _ => e,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
