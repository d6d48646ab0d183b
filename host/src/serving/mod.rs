//! The serving core: requests in, responses out, with no knowledge of any transport.
//! [`FeatureServer`] owns what every request is served from; a front (the HTTP one in
//! `crate::http`, the gRPC one in `crate::grpc`) parses, calls it and renders.

mod access;
pub mod coerce;
mod dispatch;
mod error;
mod ingest;
pub mod jobs;
mod online;
mod plan;
pub mod render;
pub mod response;
mod running;
pub mod search;
pub mod server;
mod transform;
pub mod write;

pub use dispatch::OwnedOnlineRequest;
pub use error::ServingError;
pub use jobs::Window;
pub use online::{OnlineRequest, get_online_features, serve_plan};
pub(crate) use plan::split_ref;
pub use plan::{Plan, ServingOptions, Snapshot};
pub use server::{FeatureServer, watch_registry};
