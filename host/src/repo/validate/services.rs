//! Validation of feature services: the feature references they bundle.

use super::*;

impl Validator<'_> {
    pub(super) fn feature_service(
        &mut self,
        s: &Decl<'_, FeatureServiceDef>,
        defs: &Definitions,
        views: &BTreeMap<&str, Decl<'_, FeatureViewDef>>,
        odfvs: &BTreeMap<&str, Decl<'_, OnDemandFeatureViewDef>>,
    ) -> Option<FeatureService> {
        let d = s.def;
        let name = &d.name.value;
        let mut ok = true;
        let mut projections = Vec::new();
        let mut served_as: BTreeMap<String, u64> = BTreeMap::new();
        if d.features.is_empty() {
            self.err(
                s.file,
                s.loc,
                format!("feature service `{name}` selects nothing"),
                "list views under `features:`, e.g. `- view: my_view`",
            );
            return None;
        }
        for p in &d.features {
            let p = &p.value;
            let view = p.view.value.as_str();
            // The validated view when it is valid, else the declaration (to still check names).
            let names = |fields: &[Field]| fields.iter().map(|f| f.name.clone()).collect();
            let declared = |schema: &[Spanned<FieldDef>]| {
                schema.iter().map(|f| f.value.name.value.clone()).collect()
            };
            let available: Option<Vec<String>> = defs
                .feature_views
                .get(view)
                .map(|v| names(&v.features))
                .or_else(|| {
                    defs.on_demand_feature_views
                        .get(view)
                        .map(|v| names(&v.features))
                })
                .or_else(|| views.get(view).map(|v| declared(&v.def.schema)))
                .or_else(|| odfvs.get(view).map(|v| declared(&v.def.schema)));
            let Some(available) = available else {
                let all = views.keys().chain(odfvs.keys());
                self.err(
                    s.file,
                    loc(&p.view),
                    format!("feature service `{name}` references unknown view `{view}`"),
                    known("views", all),
                );
                ok = false;
                continue;
            };
            let selected: Vec<String> = match &p.features {
                None => available.clone(),
                Some(list) => {
                    for f in list {
                        if !available.contains(&f.value) {
                            self.err(
                                s.file,
                                loc(f),
                                format!("feature service `{name}` selects `{}`, which view `{view}` does not have", f.value),
                                format!("features of `{view}`: {}", available.join(", ")),
                            );
                            ok = false;
                        }
                    }
                    list.iter().map(|f| f.value.clone()).collect()
                }
            };
            let served = p
                .alias
                .as_ref()
                .map_or(view, |a| a.value.as_str())
                .to_string();
            if let Some(alias) = &p.alias {
                self.check_name(s.file, alias, "alias");
            }
            let here = loc(&p.view).line();
            if let Some(line) = served_as.insert(served.clone(), here) {
                self.err(
                    s.file,
                    loc(&p.view),
                    format!("feature service `{name}` serves `{served}` twice"),
                    format!(
                        "it is already projected at line {line}; give one projection an `alias`"
                    ),
                );
                ok = false;
            }
            projections.push(Projection {
                feature_view_name: view.to_string(),
                feature_view_name_alias: p.alias.as_ref().map(|a| a.value.clone()),
                feature_columns: selected,
                join_key_map: p.join_key_map.clone(),
            });
        }
        ok.then(|| FeatureService {
            name: name.clone(),
            features: projections,
            description: d.description.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            owner: d.owner.clone().unwrap_or_default(),
        })
    }
}
