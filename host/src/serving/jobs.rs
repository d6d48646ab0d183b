//! Materialization in the serving core: which views a request names (Feast's checks and
//! messages), their windows, the set of views being materialized (for the async 409), and the
//! run itself. A run reads Parquet and writes the store for seconds: a front runs it on a small
//! pool of its own, off its request threads.

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::offline::materialize::{
    Job, NoProgress, incremental_start, record_interval, run_job, select_views,
};
use crate::registry::Action;
use crate::serving::error::ServingError;
use crate::serving::server::FeatureServer;
use crate::types::clock;
use crate::types::time::{format_python, parse_timestamp};

/// How many materializations run at once (Feast's `FEAST_MATERIALIZE_MAX_WORKERS`, default 2,
/// at least 1). Each holds a blocking thread; the limit keeps the cores for reads.
pub fn max_workers() -> usize {
    std::env::var("FEAST_MATERIALIZE_MAX_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(2)
        .max(1)
}

/// A request timestamp, read leniently; a bad one is a 500 with the parser's message, as Feast.
fn timestamp(text: &str) -> Result<DateTime<Utc>, ServingError> {
    parse_timestamp(text).map_err(ServingError::other)
}

/// What to materialize: an explicit window or everything up to now.
pub enum Window<'a> {
    /// `start_ts` and `end_ts` as the client wrote them (either may be missing: a 500).
    Explicit {
        /// `start_ts`.
        start: Option<&'a str>,
        /// `end_ts`.
        end: Option<&'a str>,
    },
    /// `disable_event_timestamp: true`: from the epoch to now.
    Everything,
}

impl FeatureServer {
    /// The views named (checked as Feast does: unknown is 404), or every eligible view, each
    /// authorized for WRITE_ONLINE (Feast's `_authorize_materialize_views`).
    fn materializable(
        &self,
        caller: Option<&Principal>,
        names: Option<&[String]>,
    ) -> Result<Vec<String>, ServingError> {
        let snapshot = self.snapshot();
        let registry = &snapshot.registry;
        let project = &registry.project.spec.name;
        let names = names.unwrap_or(&[]);
        for name in names {
            if !registry.feature_views.contains_key(name)
                && !registry.on_demand_feature_views.contains_key(name)
            {
                return Err(ServingError::feast(
                    404,
                    "FeatureViewNotFoundException",
                    format!("Feature view {name} does not exist in project {project}"),
                ));
            }
        }
        let views: Vec<String> = select_views(registry, names)
            .map(|views| views.iter().map(|v| v.spec.name.clone()).collect())
            .map_err(|e| ServingError::other(e.to_string()))?;
        let resources: Vec<_> = views
            .iter()
            .filter_map(|n| crate::auth::resources::feature_view(registry, n))
            .collect();
        self.authorize(caller, &snapshot, &resources, &[Action::WriteOnline])?;
        Ok(views)
    }

    /// The jobs of Feast's `materialize`: every named view over one window.
    pub fn materialize_jobs(
        &self,
        caller: Option<&Principal>,
        views: Option<&[String]>,
        window: Window<'_>,
    ) -> Result<Vec<Job>, ServingError> {
        let views = self.materializable(caller, views)?;
        let (start, end) = match window {
            Window::Everything => (DateTime::UNIX_EPOCH, clock::now()),
            Window::Explicit {
                start: Some(s),
                end: Some(e),
            } => (timestamp(s)?, timestamp(e)?),
            Window::Explicit { .. } => {
                return Err(ServingError::other(
                    "start_ts and end_ts are required unless disable_event_timestamp is true",
                ));
            }
        };
        if start >= end {
            return Err(ServingError::other(format!(
                "start_ts ({}) must be before end_ts ({})",
                format_python(start),
                format_python(end)
            )));
        }
        Ok(views
            .into_iter()
            .map(|view| Job { view, start, end })
            .collect())
    }

    /// The jobs of Feast's `materialize_incremental`: each view from where its last run ended
    /// (or its ttl back from now) to `end`; views already past `end` have none.
    pub fn incremental_jobs(
        &self,
        caller: Option<&Principal>,
        views: Option<&[String]>,
        end: &str,
    ) -> Result<Vec<Job>, ServingError> {
        let names = self.materializable(caller, views)?;
        let end = timestamp(end)?;
        let snapshot = self.snapshot();
        let now = clock::now();
        Ok(names
            .into_iter()
            .filter_map(|view| {
                let start = incremental_start(snapshot.registry.feature_views.get(&view)?, now);
                (start < end).then_some(Job { view, start, end })
            })
            .collect())
    }

    /// Marks the jobs' views as materializing (refused with the busy views unless `force`).
    pub fn claim_jobs(&self, jobs: &[Job], force: bool) -> Result<(), Vec<String>> {
        let views: Vec<String> = jobs.iter().map(|j| j.view.clone()).collect();
        self.running.claim(&views, force)
    }

    /// Clears the mark of [`FeatureServer::claim_jobs`].
    pub fn release_jobs(&self, jobs: &[Job]) {
        let views: Vec<String> = jobs.iter().map(|j| j.view.clone()).collect();
        self.running.release(&views);
    }

    /// Runs the jobs, in order, and records each window in the registry. Blocks for as long
    /// as the reads and writes take.
    pub fn run_jobs(&self, jobs: &[Job]) -> Result<(), ServingError> {
        let snapshot = self.snapshot();
        for job in jobs {
            let Some(view) = snapshot.registry.feature_views.get(&job.view) else {
                continue;
            };
            run_job(
                &self.config.repo_path,
                &snapshot.registry,
                self.store.as_ref(),
                job,
                &mut NoProgress,
            )
            .map_err(|e| ServingError::other(format!("{e:#}")))?;
            record_interval(
                &self.config.registry_path,
                &self.config.project,
                &view.spec,
                job,
            )
            .map_err(|e| ServingError::other(format!("{e:#}")))?;
        }
        Ok(())
    }
}
