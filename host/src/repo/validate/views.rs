//! Validation of feature views and on-demand feature views.

use super::*;

impl Validator<'_> {
    pub(super) fn feature_view(
        &mut self,
        fv: &Decl<'_, FeatureViewDef>,
        entities: &BTreeMap<&str, (String, Option<DType>)>,
        sources: &BTreeMap<String, DataSource>,
    ) -> Option<FeatureView> {
        let d = fv.def;
        let name = &d.name.value;
        let mut ok = true;
        // (entity, its key column), for the entities that exist.
        let mut entity_columns: Vec<(&str, Field)> = Vec::new();
        let mut seen_entities = BTreeSet::new();
        for e in &d.entities {
            if !seen_entities.insert(e.value.as_str()) {
                self.err(
                    fv.file,
                    loc(e),
                    format!("entity `{}` is listed twice", e.value),
                    "list each entity once",
                );
                ok = false;
                continue;
            }
            match entities.get(e.value.as_str()) {
                Some((join_key, declared)) => entity_columns.push((
                    e.value.as_str(),
                    Field {
                        name: join_key.clone(),
                        // Until inference has run; `run` sets the entity's final type.
                        dtype: declared.clone().unwrap_or(DType::Int64),
                        description: String::new(),
                        tags: Default::default(),
                        vector_index: None,
                    },
                )),
                None => {
                    self.err(
                        fv.file,
                        loc(e),
                        format!(
                            "feature view `{name}` references unknown entity `{}`",
                            e.value
                        ),
                        format!(
                            "declare it under `entities:`; {}",
                            known("entities", entities.keys())
                        ),
                    );
                    ok = false;
                }
            }
        }
        let owner = format!("feature view `{name}`");
        let mut schema = self.fields(fv.file, &d.schema, &owner, true);
        // Feast lets a schema list the join keys; they are entity columns, not features, and
        // their dtype types an entity that declares none.
        if let Some(fields) = &mut schema {
            let mut learned = Vec::new();
            fields.retain(
                |f| match entity_columns.iter().find(|(_, c)| c.name == f.name) {
                    Some((entity, _)) => {
                        learned.push((entity.to_string(), f.dtype.clone()));
                        false
                    }
                    None => true,
                },
            );
            for (entity, t) in learned {
                self.inferred.entry(entity).or_insert(t);
            }
        }
        let ttl_seconds = match &d.ttl {
            None => 0,
            Some(t) => match &t.value {
                DurationDef::Seconds(s) => *s,
                DurationDef::Text(text) => match parse_duration(text) {
                    Ok(s) => s,
                    Err(e) => {
                        self.err(fv.file, loc(t), e.to_string(), "e.g. `ttl: 1d`");
                        ok = false;
                        0
                    }
                },
            },
        };
        let (batch_source, stream_source) = match sources.get(&d.source.value).map(|s| &s.kind) {
            // Other kinds come only from a Feast registry, never from definitions.
            Some(SourceKind::File { .. } | SourceKind::Other { .. }) => {
                (d.source.value.clone(), None)
            }
            Some(SourceKind::Push { batch_source }) => {
                (batch_source.clone(), Some(d.source.value.clone()))
            }
            Some(SourceKind::Request { .. }) => {
                self.err(
                    fv.file,
                    loc(&d.source),
                    format!("feature view `{name}` cannot read from request source `{}`", d.source.value),
                    "request sources feed on demand feature views; a feature view's source is a file or push source",
                );
                return None;
            }
            None => {
                self.err(
                    fv.file,
                    loc(&d.source),
                    format!(
                        "feature view `{name}` references unknown data source `{}`",
                        d.source.value
                    ),
                    format!(
                        "declare it under `data_sources:`; {}",
                        known("data sources", sources.keys())
                    ),
                );
                return None;
            }
        };
        let features = schema?;
        if features.is_empty() {
            self.err(
                fv.file,
                fv.loc,
                format!("feature view `{name}` has no features"),
                "list at least one feature in `schema:`",
            );
            return None;
        }
        if let Some(SourceKind::File {
            path,
            timestamp_field,
            created_timestamp_column,
            field_mapping,
        }) = sources.get(&batch_source).map(|s| &s.kind)
            && let Some(columns) = self.source_columns(&batch_source, path)
        {
            // field_mapping renames source columns to feature names.
            let source_col = |feature: &str| {
                field_mapping
                    .iter()
                    .find(|(_, to)| to.as_str() == feature)
                    .map_or(feature.to_string(), |(from, _)| from.clone())
            };
            let listing = columns.keys().cloned().collect::<Vec<_>>().join(", ");
            let schema_locs: BTreeMap<&str, Location> = d
                .schema
                .iter()
                .map(|f| (f.value.name.value.as_str(), loc(&f.value.name)))
                .collect();
            let mut wanted: Vec<(String, Location)> = features
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        schema_locs.get(f.name.as_str()).copied().unwrap_or(fv.loc),
                    )
                })
                .collect();
            for (entity, col) in &entity_columns {
                let at = d
                    .entities
                    .iter()
                    .find(|e| e.value == *entity)
                    .map_or(fv.loc, loc);
                wanted.push((col.name.clone(), at));
                if let Some(t) = columns.get(&source_col(&col.name)).and_then(key_dtype_of) {
                    self.inferred.entry(entity.to_string()).or_insert(t);
                }
            }
            wanted.push((timestamp_field.clone(), loc(&d.source)));
            if !created_timestamp_column.is_empty() {
                wanted.push((created_timestamp_column.clone(), loc(&d.source)));
            }
            for (col, at) in wanted {
                let src = source_col(&col);
                if !columns.contains_key(&src) {
                    self.err(
                        fv.file,
                        at,
                        format!("column `{src}` used by feature view `{name}` is not in source `{batch_source}` ({})", path.display()),
                        format!("its columns are: {listing}; fix the name or add a `field_mapping`"),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| FeatureView {
            name: name.clone(),
            entities: entity_columns.iter().map(|(e, _)| e.to_string()).collect(),
            entity_columns: entity_columns.into_iter().map(|(_, c)| c).collect(),
            features,
            ttl_seconds,
            batch_source,
            stream_source,
            online: d.online.unwrap_or(true),
            offline: d.offline.unwrap_or(false),
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    pub(super) fn odfv(
        &mut self,
        o: &Decl<'_, OnDemandFeatureViewDef>,
        views: &BTreeMap<&str, Decl<'_, FeatureViewDef>>,
        sources: &BTreeMap<String, DataSource>,
    ) -> Option<OnDemandFeatureView> {
        let d = o.def;
        let name = &d.name.value;
        let mut ok = true;
        let mut out_sources = Vec::new();
        if d.sources.is_empty() {
            self.err(
                o.file,
                o.loc,
                format!("on demand feature view `{name}` has no sources"),
                "list feature views and request sources under `sources:`",
            );
            ok = false;
        }
        for s in &d.sources {
            if views.contains_key(s.value.as_str()) {
                out_sources.push(OdfvSource::FeatureView(s.value.clone()));
            } else if let Some(SourceKind::Request { .. }) = sources.get(&s.value).map(|d| &d.kind)
            {
                out_sources.push(OdfvSource::RequestSource(s.value.clone()));
            } else if let Some(src) = sources.get(&s.value) {
                let kind = match src.kind {
                    SourceKind::File { .. } => "file",
                    _ => "push",
                };
                self.err(
                    o.file,
                    loc(s),
                    format!("on demand feature view `{name}` cannot read from {kind} source `{}`", s.value),
                    "its sources are feature views and request sources; read the feature view fed by that source instead",
                );
                ok = false;
            } else {
                let requests = sources
                    .iter()
                    .filter(|(_, d)| matches!(d.kind, SourceKind::Request { .. }))
                    .map(|(n, _)| n.as_str());
                self.err(
                    o.file,
                    loc(s),
                    format!(
                        "on demand feature view `{name}` references unknown source `{}`",
                        s.value
                    ),
                    format!(
                        "{}; {}",
                        known("feature views", views.keys()),
                        known("request sources", requests)
                    ),
                );
                ok = false;
            }
        }
        let owner = format!("on demand feature view `{name}`");
        let features = self.fields(o.file, &d.schema, &owner, false);
        if let Some(p) = &d.plugin {
            self.check_name(o.file, p, "plugin");
        }
        let features = features?;
        if features.is_empty() {
            self.err(
                o.file,
                o.loc,
                format!("{owner} has no output features"),
                "list its outputs in `schema:`",
            );
            return None;
        }
        ok.then(|| OnDemandFeatureView {
            name: name.clone(),
            sources: out_sources,
            features,
            plugin: d
                .plugin
                .as_ref()
                .map_or_else(|| name.clone(), |p| p.value.clone()),
            write_to_online_store: d.write_to_online_store,
            python_udf: None,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }
}
