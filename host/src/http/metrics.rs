//! Prometheus metrics with the names Feast's feature server exports, so dashboards built for its
//! server keep working.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often buffered histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Latency buckets in seconds: from 50 µs (an edge read) to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0,
];
const COUNT_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0];

/// Installs the process-wide recorder (once; later calls are no-ops). Until it is installed,
/// the `metrics` macros cost almost nothing and record nothing.
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_count".into()), &COUNT_BUCKETS)
            });
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        // Another recorder may be installed (tests); then ours simply renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        // Histograms buffer raw samples until drained; without a periodic drain a busy server
        // that nobody scrapes would grow without bound.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        handle
    });
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Counts one request and its latency under Feast's metric names, whichever way the handler
/// leaves: a guard rather than a middleware because Feast labels latency by how many features
/// and views were asked for, which only the handler knows. Dropped without
/// [`RequestTimer::succeeded`] (an early `?`), it records a failure.
pub struct RequestTimer {
    endpoint: &'static str,
    started: std::time::Instant,
    features: usize,
    views: usize,
    ok: bool,
}

impl RequestTimer {
    /// Starts timing a request to `endpoint`.
    pub fn start(endpoint: &'static str) -> RequestTimer {
        RequestTimer {
            endpoint,
            started: std::time::Instant::now(),
            features: 0,
            views: 0,
            ok: false,
        }
    }

    /// Sets the feature and view counts the latency is labelled with.
    pub fn labels(&mut self, features: usize, views: usize) {
        self.features = features;
        self.views = views;
    }

    /// Records a success and passes `response` through.
    pub fn succeeded<T>(mut self, response: T) -> T {
        self.ok = true;
        response
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        let status = if self.ok { "success" } else { "error" };
        metrics::counter!("feast_feature_server_request_total", "endpoint" => self.endpoint, "status" => status)
            .increment(1);
        // A failed request's counts come from whatever its sender wrote (unknown names,
        // anyone's, before or without a valid token): they label nothing, or a client could
        // create a series per request.
        let (features, views) = if self.ok {
            (count_label(self.features), count_label(self.views))
        } else {
            ("unknown", "unknown")
        };
        metrics::histogram!(
            "feast_feature_server_request_latency_seconds",
            "endpoint" => self.endpoint,
            "feature_count" => features,
            "feature_view_count" => views
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

/// A count as a label value: exact up to 10, as Feast writes it, then in ranges, so that the
/// number of series stays bounded (16 values) whatever requests ask for.
fn count_label(n: usize) -> &'static str {
    const EXACT: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    match n {
        0..=10 => EXACT[n],
        11..=20 => "11-20",
        21..=50 => "21-50",
        51..=100 => "51-100",
        101..=1000 => "101-1000",
        _ => "1001+",
    }
}

#[cfg(test)]
mod tests {
    use super::count_label;

    #[test]
    fn counts_label_exactly_then_by_range() {
        assert_eq!(count_label(3), "3");
        assert_eq!(count_label(10), "10");
        assert_eq!(count_label(11), "11-20");
        assert_eq!(count_label(100), "51-100");
        assert_eq!(count_label(7260), "1001+");
        let labels: std::collections::BTreeSet<_> = (0..100_000).map(count_label).collect();
        assert_eq!(labels.len(), 16);
    }
}
