//! Validation of feature view fields: their dtypes, and the vector index a field may declare.

use super::*;

impl Validator<'_> {
    pub(super) fn dtype(&mut self, file: &Path, text: &Spanned<String>) -> Option<DType> {
        match DType::parse(&text.value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(
                    file,
                    loc(text),
                    e.to_string(),
                    "see docs/definitions.md#types",
                );
                None
            }
        }
    }

    /// The fields of a schema; `vectors`: whether a field may be a vector field (a feature
    /// view's, at most one).
    pub(super) fn fields(
        &mut self,
        file: &Path,
        defs: &[Spanned<FieldDef>],
        owner: &str,
        vectors: bool,
    ) -> Option<Vec<Field>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut seen = BTreeSet::new();
        let mut vector_field: Option<&str> = None;
        for f in defs {
            let f = &f.value;
            let dtype = self.dtype(file, &f.dtype);
            let vector_index = match self.vector_index(file, f, dtype.as_ref(), owner, vectors) {
                Ok(v) => v,
                Err(()) => {
                    ok = false;
                    None
                }
            };
            if vector_index.is_some() {
                if let Some(first) = vector_field {
                    self.err(
                        file,
                        loc(&f.name),
                        format!(
                            "{owner} has two vector fields, `{first}` and `{}`",
                            f.name.value
                        ),
                        "a view is searched by one vector field (as in Feast); keep `vector_index: true` on one",
                    );
                    ok = false;
                }
                vector_field = Some(&f.name.value);
            }
            self.check_name(file, &f.name, "field");
            if !seen.insert(f.name.value.as_str()) {
                self.err(
                    file,
                    loc(&f.name),
                    format!(
                        "field `{}` appears twice in the schema of {owner}",
                        f.name.value
                    ),
                    "remove or rename one of them",
                );
                ok = false;
            }
            match dtype {
                Some(dtype) => out.push(Field {
                    name: f.name.value.clone(),
                    dtype,
                    description: f.description.clone().unwrap_or_default(),
                    tags: f.tags.clone(),
                    vector_index,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A field's `vector_index`, `vector_length` and `vector_search_metric`, checked together:
    /// `Err` after reporting a problem.
    pub(super) fn vector_index(
        &mut self,
        file: &Path,
        f: &FieldDef,
        dtype: Option<&DType>,
        owner: &str,
        allowed: bool,
    ) -> Result<Option<VectorIndex>, ()> {
        let on = f.vector_index.as_ref().is_some_and(|v| v.value);
        if !on {
            let stray = f
                .vector_length
                .as_ref()
                .map(|l| (loc(l), "vector_length"))
                .or_else(|| {
                    f.vector_search_metric
                        .as_ref()
                        .map(|m| (loc(m), "vector_search_metric"))
                });
            if let Some((at, key)) = stray {
                self.err(
                    file,
                    at,
                    format!(
                        "field `{}` of {owner} sets `{key}` but is not a vector field",
                        f.name.value
                    ),
                    "add `vector_index: true` to search it, or remove the key",
                );
                return Err(());
            }
            return Ok(None);
        }
        let at = f.vector_index.as_ref().map_or_else(|| loc(&f.name), loc);
        if !allowed {
            self.err(
                file,
                at,
                format!(
                    "field `{}` of {owner} cannot be a vector field",
                    f.name.value
                ),
                "only a feature view's features are searchable; remove `vector_index`",
            );
            return Err(());
        }
        let mut ok = true;
        if let Some(dtype) = dtype
            && !crate::vector::is_vector_dtype(dtype)
        {
            self.err(
                file,
                loc(&f.dtype),
                format!(
                    "vector field `{}` of {owner} has dtype {dtype}",
                    f.name.value
                ),
                "a vector field is `Array(Float32)` or `Array(Float64)`",
            );
            ok = false;
        }
        let length = match &f.vector_length {
            None => {
                self.err(
                    file,
                    at,
                    format!(
                        "vector field `{}` of {owner} has no `vector_length`",
                        f.name.value
                    ),
                    "give the length of its vectors, e.g. `vector_length: 384`; every write is checked against it",
                );
                ok = false;
                0
            }
            Some(l) => match u32::try_from(l.value) {
                Ok(n) if (1..=crate::vector::MAX_VECTOR_LENGTH).contains(&n) => n,
                _ => {
                    self.err(
                        file,
                        loc(l),
                        format!(
                            "vector field `{}` of {owner} has vector_length {}",
                            f.name.value, l.value
                        ),
                        format!(
                            "a vector holds from 1 to {} numbers",
                            crate::vector::MAX_VECTOR_LENGTH
                        ),
                    );
                    ok = false;
                    0
                }
            },
        };
        let metric = match &f.vector_search_metric {
            None => None,
            Some(m) => match Metric::parse(&m.value) {
                Some(metric) => Some(metric),
                None => {
                    self.err(
                        file,
                        loc(m),
                        format!(
                            "vector field `{}` of {owner} has unknown vector_search_metric `{}`",
                            f.name.value, m.value
                        ),
                        format!("use one of {}", Metric::names()),
                    );
                    ok = false;
                    None
                }
            },
        };
        if !ok {
            return Err(());
        }
        Ok(Some(VectorIndex {
            vector_length: length,
            vector_search_metric: metric,
        }))
    }
}
