//! The gRPC front: Feast's `feast.serving.ServingService` and `GrpcFeatureServer`, with
//! `grpc.health.v1.Health` and server reflection, over the same serving core as the HTTP
//! front (docs/grpc.md). This module only translates: messages to core requests
//! ([`convert`]), core errors to statuses ([`status`]), the `authorization` metadata to a
//! principal ([`auth`]). The router it builds is served by the HTTP front's accept loop
//! (`http::server::serve`, HTTP/2 only), so TLS, connection caps and graceful draining are
//! one implementation for both.

pub mod auth;
pub mod codec;
pub mod convert;
mod health;
pub mod metrics;
mod online;
mod services;
pub mod status;
mod write;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::proto::feast::serving::serving_service_server::ServingServiceServer;
use crate::proto::grpc_server::grpc_feature_server_server::GrpcFeatureServerServer;
use crate::serving::FeatureServer;

pub use services::Services;

/// The largest request message accepted, as the HTTP front's body limit.
fn max_message_bytes(core: &FeatureServer) -> usize {
    crate::http::state::body_limit(&core.config)
}

/// The gRPC router over `core`: both feature services, health (tracking the core's health
/// from now on; call it inside the runtime) and reflection (v1 and v1alpha, which older
/// tools ask for).
pub fn router(core: Arc<FeatureServer>) -> Result<axum::Router> {
    let limit = max_message_bytes(&core);
    let services = Services::new(core.clone());
    let serving = ServingServiceServer::new(services.clone()).max_decoding_message_size(limit);
    let feature_server = GrpcFeatureServerServer::new(services).max_decoding_message_size(limit);
    let (reporter, health) = tonic_health::server::health_reporter();
    health::track(core, reporter);
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("cannot build the gRPC reflection service")?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("cannot build the gRPC reflection service")?;
    Ok(tonic::service::Routes::new(serving)
        .add_service(feature_server)
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .into_axum_router())
}
