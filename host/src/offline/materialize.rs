//! Materialization: the newest rows of each view's offline source, in a time window, written
//! to the online store; the window recorded in the registry once the rows are durable.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use crate::offline::quarantine::{Quarantined, quarantine};
use crate::offline::source::{SourcePlan, latest_per_entity};
use crate::online::{Durability, OnlineStore, Table, WriteFeature};
use crate::registry::feast::{IntervalRecord, decode_registry, record_intervals};
use crate::registry::{
    FeatureView, Registry, RegistryLock, Stored, intervals, is_feast_registry, load_registry,
    save_registry,
};
use crate::types::Value;
use crate::types::time::to_micros;

/// Rows per write transaction: big enough that commits are rare, small enough that one
/// transaction's dirty pages stay well inside memory.
const WRITE_CHUNK: usize = 50_000;

/// One view to materialize over one window (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The feature view.
    pub view: String,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
}

/// What one job did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Rows read from the source.
    pub rows_read: u64,
    /// Rows whose event time was in the window.
    pub rows_in_window: u64,
    /// Entities written.
    pub written: usize,
    /// Entities whose stored row was newer, so left as it was.
    pub kept_newer: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Parts of the source that could not be materialized, skipped and quarantined
    /// (`offline::quarantine`).
    pub quarantined: Vec<Quarantined>,
}

/// Progress callbacks, so the CLI can draw bars and the server can stay quiet.
pub trait Progress {
    /// Reading starts: `total` rows in the source files.
    fn reading(&mut self, total: u64);
    /// `n` more rows read.
    fn read(&mut self, n: u64);
    /// Writing starts: `total` entities.
    fn writing(&mut self, total: u64);
    /// `n` more entities written.
    fn wrote(&mut self, n: u64);
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn reading(&mut self, _: u64) {}
    fn read(&mut self, _: u64) {}
    fn writing(&mut self, _: u64) {}
    fn wrote(&mut self, _: u64) {}
}

/// The views to materialize: the named ones, or every online feature view. Names are looked
/// up as Feast does; an unknown name fails with Feast's message.
pub fn select_views<'r>(
    registry: &'r Registry,
    names: &[String],
) -> Result<Vec<&'r Stored<FeatureView>>> {
    if names.is_empty() {
        return Ok(registry
            .feature_views
            .values()
            .filter(|v| v.spec.online)
            .collect());
    }
    let project = &registry.project.spec.name;
    let mut out: Vec<&Stored<FeatureView>> = Vec::new();
    for name in names {
        // A view named twice is materialized once: the work is bounded by the views, not by
        // the length of the list.
        if out.iter().any(|v| v.spec.name == *name) {
            continue;
        }
        match registry.feature_views.get(name) {
            Some(v) if v.spec.online => out.push(v),
            Some(_) => bail!(
                "feature view {name} is not online (`online: false`), so it cannot be materialized"
            ),
            None if registry.on_demand_feature_views.contains_key(name) => bail!(
                "{name} is an on demand feature view: its features are computed by its plugin at request time, not materialized"
            ),
            None => bail!("Feature view {name} does not exist in project {project}"),
        }
    }
    Ok(out)
}

/// The views on demand that `write_to_online_store` would have materialized: edgefeat
/// computes them per request instead, and says so.
pub fn skipped_odfvs(registry: &Registry, names: &[String]) -> Vec<String> {
    if !names.is_empty() {
        return Vec::new();
    }
    registry
        .on_demand_feature_views
        .values()
        .filter(|v| v.spec.write_to_online_store)
        .map(|v| v.spec.name.clone())
        .collect()
}

/// Where an incremental materialization of `view` starts, as in Feast's
/// `FeatureStore.materialize_incremental` (docs/feast-compat.md#incremental-start): the end of its
/// last materialized window; else `now - ttl`; else (no ttl) `now - 52 weeks`.
pub fn incremental_start(view: &Stored<FeatureView>, now: DateTime<Utc>) -> DateTime<Utc> {
    if let Some(end) = view
        .meta
        .materialization_intervals
        .iter()
        .map(|i| i.end_time)
        .max()
    {
        return end;
    }
    let ttl = i64::try_from(view.spec.ttl_seconds).unwrap_or(i64::MAX);
    if ttl > 0 {
        now - chrono::Duration::seconds(ttl)
    } else {
        now - chrono::Duration::weeks(52)
    }
}

/// Runs one job: reads the window's newest row per entity and writes them with deferred
/// durability, then syncs. Does not record the window: see [`record_interval`].
pub fn run_job(
    repo: &Path,
    registry: &Registry,
    store: &dyn OnlineStore,
    job: &Job,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    let started = Instant::now();
    let Some(view) = registry.feature_views.get(&job.view) else {
        bail!(
            "Feature view {} does not exist in project {}",
            job.view,
            registry.project.spec.name
        );
    };
    let mut plan = SourcePlan::for_view(repo, registry, &view.spec)?;
    progress.reading(plan.total_rows());
    let check = values_check(&view.spec);
    let latest = latest_per_entity(
        &plan,
        to_micros(job.start),
        to_micros(job.end),
        &check,
        &mut |n| progress.read(n),
    )?;
    // Quarantine takes the directory's exclusive lock: the files are read, let it go first.
    plan.unlock();
    let quarantined: Vec<Quarantined> = latest
        .bad_parts
        .iter()
        .map(|(file, why)| quarantine(&plan.parts_dir, &plan.source, file, why))
        .collect();
    let table = Table {
        project: &registry.project.spec.name,
        view: &view.spec.name,
    };
    let names: Vec<&str> = plan.features.iter().map(|f| f.name.as_str()).collect();
    let features: Vec<WriteFeature<'_>> = plan
        .features
        .iter()
        .map(|f| WriteFeature {
            name: &f.name,
            dtype: &f.dtype,
        })
        .collect();
    let mut outcome = Outcome {
        rows_read: latest.rows_read,
        rows_in_window: latest.rows_in_window,
        quarantined,
        ..Outcome::default()
    };
    // Every vector is checked before anything is written, so a bad one fails the job whole.
    crate::vector::check_rows(&view.spec, &names, &latest.rows).map_err(anyhow::Error::msg)?;
    progress.writing(latest.rows.len() as u64);
    for chunk in latest.rows.chunks(WRITE_CHUNK) {
        let stats = store.write(table, &features, chunk, Durability::Deferred)?;
        outcome.written += stats.written;
        outcome.kept_newer += stats.kept_newer;
        progress.wrote(chunk.len() as u64);
    }
    store.sync()?;
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// The check of a row's feature values (in the view's feature order) that their dtypes do
/// not make: a vector field's length. A row that fails it is not materialized.
pub fn values_check(view: &FeatureView) -> impl Fn(&[Value]) -> Result<(), String> + '_ {
    let vector = crate::vector::vector_field(view).and_then(|(field, index)| {
        let at = view.features.iter().position(|f| f.name == field.name)?;
        Some((at, field, index))
    });
    move |values: &[Value]| {
        let Some((at, field, index)) = vector else {
            return Ok(());
        };
        match values.get(at) {
            Some(value) => crate::vector::to_f32(value, index).map(|_| ()).map_err(|e| {
                format!(
                    "feature view {}, vector field {}: the vector {e}; every vector of {} must hold exactly {} numbers",
                    view.name, field.name, field.name, index.vector_length
                )
            }),
            None => Ok(()),
        }
    }
}

/// Records a successful window in the registry, under its lock. The view is matched by its
/// spec too: if an `apply` changed the view meanwhile, the window describes data of the old
/// definition and is not recorded. Returns whether it was.
pub fn record_interval(
    registry_path: &Path,
    project: &str,
    spec: &FeatureView,
    job: &Job,
) -> Result<bool> {
    let _lock = RegistryLock::acquire(registry_path)?;
    if is_feast_registry(registry_path) {
        return record_feast_interval(registry_path, project, spec, job);
    }
    let Some(mut registry) = load_registry(registry_path, project)? else {
        return Ok(false);
    };
    let Some(view) = registry.feature_views.get_mut(&job.view) else {
        return Ok(false);
    };
    if view.spec != *spec {
        return Ok(false);
    }
    // Merged with the intervals it overlaps or touches, so the list (and the file rewritten
    // with it) stays bounded however many jobs run (registry::intervals).
    intervals::record(&mut view.meta.materialization_intervals, job.start, job.end);
    let now = Utc::now();
    view.meta.last_updated_timestamp = now;
    registry.last_updated = now;
    registry.serial += 1;
    save_registry(registry_path, &registry)?;
    Ok(true)
}

/// How many times a Feast registry that changed under the edit is read again.
const FEAST_EDIT_ATTEMPTS: usize = 5;

/// [`record_interval`] for a Feast `registry.db`: the interval is spliced into the file's
/// bytes where Feast keeps it (`registry::feast::record_intervals`), every other byte kept.
/// `feast apply` takes no lock edgefeat could share, so the file is read again just before it
/// is replaced and the edit starts over if it changed meanwhile; the replacement itself is
/// atomic (a reader, Feast included, sees the old file or the new one).
fn record_feast_interval(
    registry_path: &Path,
    project: &str,
    spec: &FeatureView,
    job: &Job,
) -> Result<bool> {
    use std::io::Write as _;
    for _ in 0..FEAST_EDIT_ATTEMPTS {
        let bytes = std::fs::read(registry_path)?;
        let registry = decode_registry(&bytes, project, registry_path)?;
        let Some(view) = registry.feature_views.get(&job.view) else {
            return Ok(false);
        };
        if view.spec != *spec {
            return Ok(false);
        }
        let record = IntervalRecord {
            view: job.view.clone(),
            start: job.start,
            end: job.end,
        };
        let updated = record_intervals(&bytes, project, &[record], Utc::now())?;
        if std::fs::read(registry_path)? != bytes {
            continue;
        }
        crate::fsio::write_atomic(registry_path, |f| Ok(f.write_all(&updated)?))?;
        return Ok(true);
    }
    bail!(
        "{} kept changing while the materialization interval of {} was recorded; run the materialization again",
        registry_path.display(),
        job.view
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{MaterializationInterval, Meta};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn view(ttl_seconds: u64, intervals: &[(&str, &str)]) -> Stored<FeatureView> {
        Stored {
            spec: FeatureView {
                name: "v".into(),
                entities: vec![],
                entity_columns: vec![],
                features: vec![],
                ttl_seconds,
                batch_source: "s".into(),
                stream_source: None,
                online: true,
                offline: false,
                description: String::new(),
                tags: Default::default(),
                owner: String::new(),
            },
            meta: Meta {
                created_timestamp: t("2026-01-01T00:00:00Z"),
                last_updated_timestamp: t("2026-01-01T00:00:00Z"),
                materialization_intervals: intervals
                    .iter()
                    .map(|(s, e)| MaterializationInterval {
                        start_time: t(s),
                        end_time: t(e),
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn incremental_start_follows_feasts_three_rules() {
        let now = t("2026-11-24T12:00:00Z");
        // 1. The latest end of the recorded windows, whatever their order.
        let v = view(
            86_400,
            &[
                ("2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z"),
                ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ],
        );
        assert_eq!(incremental_start(&v, now), t("2026-11-22T00:00:00Z"));
        // 2. Never materialized: now - ttl.
        assert_eq!(
            incremental_start(&view(7_200, &[]), now),
            t("2026-11-24T10:00:00Z")
        );
        // 3. No ttl either: now - 52 weeks.
        assert_eq!(
            incremental_start(&view(0, &[]), now),
            t("2025-11-25T12:00:00Z")
        );
    }
}
