//! Feast's protobuf messages and gRPC services, generated at build time from the subset in
//! `host/proto/` (see `build.rs`): the registry's messages, which edgefeat decodes (and edits,
//! where it must, at the wire level: `registry::feast`), and the `feast.serving` messages
//! with tonic's server code for the gRPC front (`crate::grpc`), and in [`client`] the same
//! serving messages with tonic's client code, for the tests and the load generator.

mod feature_vector;
mod wire_value;

pub use feature_vector::EncodedFeatureVector;
pub use wire_value::WireValue;

/// The compiled descriptors of every `.proto` file above and what they import, for gRPC
/// server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/feast_descriptors.bin"));

// Generated code: its items carry the .proto files' comments, not rustdoc for every field.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod feast {
    /// `feast.types`.
    pub mod types {
        include!(concat!(env!("OUT_DIR"), "/feast.types.rs"));
    }
    /// `feast.core`.
    pub mod core {
        include!(concat!(env!("OUT_DIR"), "/feast.core.rs"));
    }
    /// `feast.serving`: online reads, and `ServingService`.
    pub mod serving {
        include!(concat!(env!("OUT_DIR"), "/feast.serving.rs"));
    }
}

/// `GrpcServer.proto`, which Feast declares with no package: `GrpcFeatureServer` and its
/// push and write messages.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod grpc_server {
    // The generated code names `feast.serving` from the package root, one level up.
    use super::feast;
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

/// The serving messages and services as a client sees them: a response's columns are prost's
/// generated `FeatureVector` (the server's are [`EncodedFeatureVector`]), and every service has
/// tonic's client. Other messages (`feast.types`, `feast.core`) are the ones above.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod client {
    /// The client's `feast` packages.
    pub mod feast {
        /// `feast.serving` with prost's `FeatureVector` and `ServingService`'s client.
        pub mod serving {
            include!(concat!(env!("OUT_DIR"), "/client/feast.serving.rs"));
        }
    }
    /// `GrpcServer.proto` with `GrpcFeatureServer`'s client.
    pub mod grpc_server {
        // The generated code names `feast.serving` from the package root, one level up.
        use super::feast;
        include!(concat!(env!("OUT_DIR"), "/client/_.rs"));
    }
}
