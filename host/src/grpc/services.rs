//! The two services' method tables: `feast.serving.ServingService` (what Feast's Java and Go
//! clients call) and `GrpcFeatureServer` (what `feast listen` serves), each method one call
//! into the modules beside this one.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::grpc::{online, write};
use crate::proto::feast::serving::serving_service_server::ServingService;
use crate::proto::feast::serving::{
    GetFeastServingInfoRequest, GetFeastServingInfoResponse, GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
};
use crate::proto::grpc_server::grpc_feature_server_server::GrpcFeatureServer;
use crate::proto::grpc_server::{
    PushRequest, PushResponse, WriteToOnlineStoreRequest, WriteToOnlineStoreResponse,
};
use crate::serving::FeatureServer;

/// Both services over one core.
#[derive(Clone)]
pub struct Services {
    core: Arc<FeatureServer>,
}

impl Services {
    /// The services of `core`.
    pub fn new(core: Arc<FeatureServer>) -> Services {
        Services { core }
    }
}

#[tonic::async_trait]
impl ServingService for Services {
    async fn get_feast_serving_info(
        &self,
        _request: Request<GetFeastServingInfoRequest>,
    ) -> Result<Response<GetFeastServingInfoResponse>, Status> {
        Ok(Response::new(GetFeastServingInfoResponse {
            version: format!("edgefeat {}", env!("CARGO_PKG_VERSION")),
        }))
    }

    async fn get_online_features(
        &self,
        request: Request<GetOnlineFeaturesRequest>,
    ) -> Result<Response<GetOnlineFeaturesResponse>, Status> {
        online::get_online_features(&self.core, "ServingService/GetOnlineFeatures", request).await
    }
}

#[tonic::async_trait]
impl GrpcFeatureServer for Services {
    async fn push(&self, request: Request<PushRequest>) -> Result<Response<PushResponse>, Status> {
        write::push(&self.core, request).await
    }

    async fn write_to_online_store(
        &self,
        request: Request<WriteToOnlineStoreRequest>,
    ) -> Result<Response<WriteToOnlineStoreResponse>, Status> {
        tracing::warn!(
            "WriteToOnlineStore is deprecated in Feast; Push writes the same rows through a push source"
        );
        write::write_to_online_store(&self.core, request).await
    }

    async fn get_online_features(
        &self,
        request: Request<GetOnlineFeaturesRequest>,
    ) -> Result<Response<GetOnlineFeaturesResponse>, Status> {
        online::get_online_features(&self.core, "GrpcFeatureServer/GetOnlineFeatures", request)
            .await
    }
}
