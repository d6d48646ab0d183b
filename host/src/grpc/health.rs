//! `grpc.health.v1.Health`, reflecting the HTTP front's `/health`: SERVING while the registry
//! and the store can be read, NOT_SERVING otherwise, for the server as a whole (service `""`)
//! and for each of the two feature services.

use std::sync::Arc;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::serving::FeatureServer;

/// How often the status is re-checked. A check reads the store once; at this rate it costs
/// nothing, and a load balancer polling the health service sees a change within a second.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The services whose status is reported, besides the server's own (`""`).
const SERVICES: [&str; 2] = ["feast.serving.ServingService", "GrpcFeatureServer"];

/// Keeps `reporter` in step with the core until the runtime stops.
pub fn track(core: Arc<FeatureServer>, reporter: HealthReporter) {
    tokio::spawn(async move {
        let mut last = None;
        loop {
            let problem = core.health().await;
            let status = if problem.is_none() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            if last != Some(status) {
                if let Some(problem) = &problem {
                    tracing::warn!("gRPC health: NOT_SERVING: {problem}");
                }
                for service in std::iter::once("").chain(SERVICES) {
                    reporter.set_service_status(service, status).await;
                }
                last = Some(status);
            }
            tokio::time::sleep(CHECK_INTERVAL).await;
        }
    });
}
