//! The write entry points of the core: Feast's `push` (online, offline or both) and
//! `write_to_online_store`, authorized, checked whole before anything is written. Both wait
//! for an fsync: a front runs them off its async workers.

use serde_json::{Map, Value as Json};

use crate::auth::Principal;
use crate::registry::{Action, FeatureView, Registry, SourceKind};
use crate::serving::error::ServingError;
use crate::serving::server::FeatureServer;
use crate::serving::write::{
    Columns, TimestampNames, check_feature_values, columns_of, prepare_frame, write_frame,
    write_rows,
};

impl FeatureServer {
    /// Feast's `push`: `df` (column name to values) for every feature view fed by the push
    /// source, `to` `online`, `offline` or `online_and_offline`. A push that fails writes
    /// nothing, online or offline.
    pub fn push(
        &self,
        caller: Option<&Principal>,
        push_source_name: &str,
        to: &str,
        df: Map<String, Json>,
    ) -> Result<(), ServingError> {
        // The actions in Feast's order (`WRITE` is `[WRITE_OFFLINE, WRITE_ONLINE]`), which its
        // denial message lists.
        let (online, offline, actions): (bool, bool, &[Action]) = match to {
            "online" => (true, false, &[Action::WriteOnline]),
            "offline" => (false, true, &[Action::WriteOffline]),
            "online_and_offline" => (true, true, &[Action::WriteOffline, Action::WriteOnline]),
            other => {
                return Err(ServingError::other(format!(
                    "{other} is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline']."
                )));
            }
        };
        let snapshot = self.snapshot();
        let registry = &snapshot.registry;
        let views: Vec<&FeatureView> = registry
            .feature_views
            .values()
            .map(|v| &v.spec)
            .filter(|v| v.stream_source.as_deref() == Some(push_source_name))
            .collect();
        if views.is_empty() {
            return Err(ServingError::feast(
                422,
                "PushSourceNotFoundException",
                format!("Unable to find push source '{push_source_name}'."),
            ));
        }
        let resources: Vec<_> = views
            .iter()
            .filter_map(|v| crate::auth::resources::feature_view(registry, &v.name))
            .collect();
        self.authorize(caller, &snapshot, &resources, actions)?;
        let df = columns_of(df)?;
        // Every check before any write: a push that fails writes nothing, online or offline.
        let prepared = if online {
            views
                .iter()
                .map(|v| prepare_frame(registry, v, &df, TimestampNames::Source))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            // Offline rows are checked as online ones are (each value converted by its
            // feature's dtype): a value the online store would refuse must not reach a part
            // file, where it would fail every later materialization instead. Missing columns
            // are left to the offline check, which answers Feast's message for them.
            for view in &views {
                check_feature_values(registry, view, &df)?;
            }
            Vec::new()
        };
        if offline {
            self.append_offline(registry, &views, &df)?;
        }
        for (view, rows) in views.iter().zip(&prepared) {
            write_rows(registry, self.store.as_ref(), view, rows)?;
        }
        Ok(())
    }

    /// Appends the rows to each distinct batch source of the views, once per source (two views
    /// fed by one push source and one batch source must not store the rows twice).
    fn append_offline(
        &self,
        registry: &Registry,
        views: &[&FeatureView],
        df: &Columns,
    ) -> Result<(), ServingError> {
        let mut done: Vec<&str> = Vec::new();
        for view in views {
            if done.contains(&view.batch_source.as_str()) {
                continue;
            }
            done.push(&view.batch_source);
            let Some(SourceKind::File { path, .. }) = registry
                .data_sources
                .get(&view.batch_source)
                .map(|s| &s.spec.kind)
            else {
                return Err(ServingError::other(format!(
                    "feature view {} has no file batch source to push offline to",
                    view.name
                )));
            };
            let full = self.config.repo_path.join(path);
            crate::offline::push::append_rows(&full, df)
                .map_err(|e| ServingError::other(e.to_string()))?;
            // Off the request: the push is acknowledged once its own part is durable.
            crate::offline::compact::in_background_if_due(&full);
        }
        Ok(())
    }

    /// Feast's `write_to_online_store`: `df` for one feature view (or an on-demand view whose
    /// values are stored), online.
    pub fn write_to_online_store(
        &self,
        caller: Option<&Principal>,
        name: &str,
        df: Map<String, Json>,
    ) -> Result<(), ServingError> {
        let snapshot = self.snapshot();
        let registry = &snapshot.registry;
        let resource = crate::auth::resources::feature_view(registry, name)
            .or_else(|| crate::auth::resources::on_demand_view(registry, name));
        if let Some(resource) = resource {
            self.authorize(caller, &snapshot, &[resource], &[Action::WriteOnline])?;
        }
        let view = match (
            registry.feature_views.get(name),
            registry.on_demand_feature_views.get(name),
        ) {
            (Some(v), _) => v.spec.clone(),
            // Its values are stored: written like a feature view's, outputs as columns.
            (None, Some(o)) if o.spec.write_to_online_store => registry.stored_odfv_view(&o.spec),
            (None, Some(_)) => {
                return Err(ServingError::other(format!(
                    "on demand feature view {name} is computed at request time (write_to_online_store is false): there is nothing to write"
                )));
            }
            (None, None) => {
                return Err(ServingError::feast(
                    404,
                    "FeastObjectNotFoundException",
                    format!("Can't recognize feast object with a name {name}"),
                ));
            }
        };
        let df = columns_of(df)?;
        write_frame(
            registry,
            self.store.as_ref(),
            &view,
            &df,
            TimestampNames::SourceOrSdk,
        )
        .map(|_| ())
    }
}

impl FeatureServer {
    /// Removes what offline pushes and compactions killed mid-write left in the parts
    /// directories of the registry's file sources (temp files older than a minute, originals
    /// a compaction had already merged), logging how many: called once at start.
    pub fn remove_offline_leftovers(&self) {
        let snapshot = self.snapshot();
        for source in snapshot.registry.data_sources.values() {
            if let SourceKind::File { path, .. } = &source.spec.kind {
                let dir = crate::offline::push::parts_dir(&self.config.repo_path.join(path));
                let n = crate::offline::parts::remove_stale_temp_files(
                    &dir,
                    crate::offline::parts::STALE_TEMP_AGE,
                );
                if n > 0 {
                    tracing::info!(
                        "removed {n} temp file(s) an interrupted offline push left in {}",
                        dir.display()
                    );
                }
                if let Err(e) = crate::offline::compact::recover(&dir) {
                    tracing::error!(
                        "cannot finish an interrupted compaction of {}: {e:#}",
                        dir.display()
                    );
                }
            }
        }
    }
}
