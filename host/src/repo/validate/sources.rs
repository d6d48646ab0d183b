//! Validation of data sources (file, push, request) and the columns of their files.

use super::*;

impl Validator<'_> {
    pub(super) fn data_source(
        &mut self,
        s: &Decl<'_, DataSourceDef>,
        all: &BTreeMap<&str, Decl<'_, DataSourceDef>>,
    ) -> Option<DataSource> {
        let d = s.def;
        let kind = d.kind.value.as_str();
        let present: [(&str, Option<Location>); 6] = [
            ("path", d.path.as_ref().map(loc)),
            ("timestamp_field", d.timestamp_field.as_ref().map(loc)),
            (
                "created_timestamp_column",
                d.created_timestamp_column.as_ref().map(loc),
            ),
            ("field_mapping", d.field_mapping.as_ref().map(loc)),
            ("batch_source", d.batch_source.as_ref().map(loc)),
            ("schema", d.schema.as_ref().map(loc)),
        ];
        let allowed: &[&str] = match kind {
            "file" => &[
                "path",
                "timestamp_field",
                "created_timestamp_column",
                "field_mapping",
            ],
            "push" => &["batch_source"],
            "request" => &["schema"],
            other => {
                self.err(
                    s.file,
                    loc(&d.kind),
                    format!("unknown data source type `{other}`"),
                    "use `file` (parquet), `push` or `request`",
                );
                return None;
            }
        };
        let mut ok = true;
        for (field, at) in present {
            if let Some(at) = at
                && !allowed.contains(&field)
            {
                self.err(
                    s.file,
                    at,
                    format!("`{field}` does not apply to a {kind} source"),
                    format!("a {kind} source takes: {}", allowed.join(", ")),
                );
                ok = false;
            }
        }
        let kind = match kind {
            "file" => {
                let Some(path) = &d.path else {
                    self.err(
                        s.file,
                        s.loc,
                        format!("file source `{}` has no `path`", d.name.value),
                        "add `path:`, e.g. `path: data/my_data.parquet`",
                    );
                    return None;
                };
                let Some(ts) = &d.timestamp_field else {
                    self.err(
                        s.file,
                        s.loc,
                        format!("file source `{}` has no `timestamp_field`", d.name.value),
                        "name the event-time column, e.g. `timestamp_field: event_timestamp`",
                    );
                    return None;
                };
                let full = self.repo.join(&path.value);
                if !full.exists() {
                    self.err(
                        s.file,
                        loc(path),
                        format!("source file `{}` does not exist", path.value),
                        "paths are relative to the repo directory; create the file or fix the path",
                    );
                    ok = false;
                }
                SourceKind::File {
                    path: PathBuf::from(&path.value),
                    timestamp_field: ts.value.clone(),
                    created_timestamp_column: d
                        .created_timestamp_column
                        .as_ref()
                        .map(|c| c.value.clone())
                        .unwrap_or_default(),
                    field_mapping: d
                        .field_mapping
                        .as_ref()
                        .map(|m| m.value.clone())
                        .unwrap_or_default(),
                }
            }
            "push" => {
                let Some(batch) = &d.batch_source else {
                    self.err(s.file, s.loc, format!("push source `{}` has no `batch_source`", d.name.value), "name the file source that keeps pushed rows offline, e.g. `batch_source: my_file_source`");
                    return None;
                };
                match all.get(batch.value.as_str()) {
                    Some(b) if b.def.kind.value == "file" => {}
                    Some(b) => {
                        self.err(
                            s.file,
                            loc(batch),
                            format!(
                                "batch source `{}` is a {} source",
                                batch.value, b.def.kind.value
                            ),
                            "a push source's batch_source must be a file source",
                        );
                        ok = false;
                    }
                    None => {
                        let files = all
                            .iter()
                            .filter(|(_, d)| d.def.kind.value == "file")
                            .map(|(n, _)| *n);
                        self.err(
                            s.file,
                            loc(batch),
                            format!(
                                "push source `{}` references unknown data source `{}`",
                                d.name.value, batch.value
                            ),
                            known("file sources", files),
                        );
                        ok = false;
                    }
                }
                SourceKind::Push {
                    batch_source: batch.value.clone(),
                }
            }
            _ => {
                let schema = match &d.schema {
                    Some(schema) if !schema.value.is_empty() => schema,
                    _ => {
                        self.err(s.file, s.loc, format!("request source `{}` has no `schema`", d.name.value), "list the request fields, e.g. `schema: [{name: val_to_add, dtype: Int64}]`");
                        return None;
                    }
                };
                let owner = format!("request source `{}`", d.name.value);
                SourceKind::Request {
                    schema: self.fields(s.file, &schema.value, &owner, false)?,
                }
            }
        };
        ok.then(|| DataSource {
            name: d.name.value.clone(),
            kind,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }

    /// The columns of a file source, read once; `None` when they cannot be known.
    pub(super) fn source_columns(&mut self, name: &str, path: &Path) -> Option<Columns> {
        if let Some(c) = self.columns.get(name) {
            return c.clone();
        }
        let full = self.repo.join(path);
        let cols = if full.exists() {
            read_columns(&full).ok().flatten()
        } else {
            None
        };
        self.columns.insert(name.to_string(), cols.clone());
        cols
    }
}
