//! `GetOnlineFeatures`, which both services serve: the same core call as HTTP's
//! `/get-online-features`, so values, statuses and timestamps are the same.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::grpc::auth::caller;
use crate::grpc::convert::{online_request, online_response};
use crate::grpc::metrics::CallTimer;
use crate::grpc::status::status_of;
use crate::proto::feast::serving::{GetOnlineFeaturesRequest, GetOnlineFeaturesResponse};
use crate::serving::FeatureServer;

/// Serves one call; `method` labels its metrics.
pub async fn get_online_features(
    core: &Arc<FeatureServer>,
    method: &'static str,
    request: Request<GetOnlineFeaturesRequest>,
) -> Result<Response<GetOnlineFeaturesResponse>, Status> {
    let timer = CallTimer::start(method);
    let served = async {
        let caller = caller(core, &request).await?;
        let req = online_request(request.into_inner())?;
        let resp = core
            .serve_online(caller.as_deref(), req)
            .await
            .map_err(status_of)?;
        Ok(Response::new(online_response(resp)?))
    };
    timer.finish(served.await)
}
