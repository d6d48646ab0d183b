//! Validation of entities: their join keys and key dtypes.

use super::*;

impl Validator<'_> {
    /// Returns the join key and the declared type, if any.
    pub(super) fn entity(&mut self, e: &Decl<'_, EntityDef>) -> Option<(String, Option<DType>)> {
        let d = e.def;
        let join_key = match (&d.join_keys, &d.join_key) {
            (Some(keys), Some(_)) => {
                self.err(
                    e.file,
                    loc(keys),
                    "both `join_keys` and `join_key` are given",
                    "keep one",
                );
                return None;
            }
            (Some(keys), None) if keys.value.len() != 1 => {
                self.err(
                    e.file,
                    loc(keys),
                    format!("entity `{}` has {} join keys", d.name.value, keys.value.len()),
                    "Feast supports exactly one join key per entity; for a composite key, declare one entity per key and list them all in the feature view",
                );
                return None;
            }
            (Some(keys), None) => keys.value[0].clone(),
            (None, Some(k)) => k.value.clone(),
            (None, None) => d.name.value.clone(),
        };
        let declared = match &d.value_type {
            None => None,
            Some(t) => {
                let dtype = self.dtype(e.file, t)?;
                if !dtype.is_key_type() {
                    self.err(
                        e.file,
                        loc(t),
                        format!("`{dtype}` cannot be an entity key type"),
                        "entity keys are serialized as Int32, Int64, String, Bytes or UnixTimestamp (entity key serialization v3)",
                    );
                    return None;
                }
                Some(dtype)
            }
        };
        Some((join_key, declared))
    }
}
