//! The serving core: requests in, responses out, with no knowledge of HTTP. The HTTP layer only
//! parses, calls it and renders, so another front (gRPC) could be added without touching it.

pub mod coerce;
mod online;
pub mod render;
pub mod response;
pub mod search;
mod transform;
pub mod write;

pub(crate) use online::split_ref;
pub use online::{
    OnlineRequest, Plan, ServingError, ServingOptions, Snapshot, get_online_features, serve_plan,
};
