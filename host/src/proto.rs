//! Feast's protobuf messages, as prost types generated at build time from the subset in
//! `host/proto/` (see `build.rs`). Only decoding uses them: edgefeat reads Feast's registry
//! with these, and edits it, where it must, at the wire level (`registry::feast`).

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
}
