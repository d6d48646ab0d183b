//! `Push` and `WriteToOnlineStore` of `GrpcFeatureServer`: one row, by column, written through
//! the same core calls as HTTP's `/push` and `/write-to-online-store`. Both wait for an fsync,
//! so the call runs on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use tonic::{Request, Response, Status};

use crate::grpc::auth::caller;
use crate::grpc::convert::{declared_columns, frame};
use crate::grpc::metrics::CallTimer;
use crate::grpc::status::status_of;
use crate::proto::WireValue;
use crate::proto::grpc_server::{
    PushRequest, PushResponse, WriteToOnlineStoreRequest, WriteToOnlineStoreResponse,
};
use crate::registry::FeatureView;
use crate::serving::{FeatureServer, ServingError};

/// `Push`: the row for every view fed by the push source named in `stream_feature_view`
/// (Feast's historical field name), to `online` (the default when `to` is unset),
/// `offline` or `online_and_offline`.
pub async fn push(
    core: &Arc<FeatureServer>,
    request: Request<PushRequest>,
) -> Result<Response<PushResponse>, Status> {
    let timer = CallTimer::start("GrpcFeatureServer/Push");
    let served = async {
        let caller = caller(core, &request).await?;
        let req = request.into_inner();
        let to = if req.to.is_empty() {
            "online".to_string()
        } else {
            req.to
        };
        let source = req.stream_feature_view.as_str();
        let df = row_frame(core, req.features, req.typed_features, |v| {
            v.stream_source.as_deref() == Some(source)
        })?;
        let core = core.clone();
        let source = req.stream_feature_view;
        blocking(move || core.push(caller.as_deref(), &source, &to, df)).await?;
        Ok(Response::new(PushResponse { status: true }))
    };
    timer.finish(served.await)
}

/// `WriteToOnlineStore`: the row for one view, online.
pub async fn write_to_online_store(
    core: &Arc<FeatureServer>,
    request: Request<WriteToOnlineStoreRequest>,
) -> Result<Response<WriteToOnlineStoreResponse>, Status> {
    let timer = CallTimer::start("GrpcFeatureServer/WriteToOnlineStore");
    let served = async {
        let caller = caller(core, &request).await?;
        let req = request.into_inner();
        let view = req.feature_view_name.as_str();
        let df = row_frame(core, req.features, req.typed_features, |v| v.name == view)?;
        let core = core.clone();
        let view = req.feature_view_name;
        blocking(move || core.write_to_online_store(caller.as_deref(), &view, df)).await?;
        Ok(Response::new(WriteToOnlineStoreResponse { status: true }))
    };
    timer.finish(served.await)
}

/// The call's one-row frame, its strings typed by the columns of the views `writes` picks in
/// the current registry.
fn row_frame(
    core: &FeatureServer,
    features: BTreeMap<String, String>,
    typed_features: BTreeMap<String, WireValue>,
    writes: impl Fn(&FeatureView) -> bool,
) -> Result<Map<String, Json>, Status> {
    let snapshot = core.snapshot();
    let views = snapshot.registry.feature_views.values().map(|v| &v.spec);
    frame(
        features,
        typed_features,
        &declared_columns(views.filter(|v| writes(v))),
    )
}

async fn blocking(
    work: impl FnOnce() -> Result<(), ServingError> + Send + 'static,
) -> Result<(), Status> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Status::internal(format!("the write task failed: {e}")))?
        .map_err(status_of)
}
