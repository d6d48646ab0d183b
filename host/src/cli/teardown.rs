//! `edgefeat teardown`.

use anyhow::Result;

use crate::online;
use crate::registry::{FeatureView, is_feast_registry, load_registry, remove_registry};
use crate::repo::RepoConfig;

pub(super) fn run(config: &RepoConfig) -> Result<()> {
    if is_feast_registry(&config.registry_path) {
        anyhow::bail!(
            "{} is Feast's registry, which edgefeat never removes or rewrites: run `feast teardown` to remove a Feast repo's registry and tables",
            config.registry_path.display()
        );
    }
    if online::exists(config) {
        let store = online::open(config)?;
        // A store adapter removes rows table by table, so it is told the registered views
        // (stored on-demand views included).
        let registry = load_registry(&config.registry_path, &config.project)?;
        let views: Vec<FeatureView> = registry
            .iter()
            .flat_map(|r| {
                r.feature_views.values().map(|v| v.spec.clone()).chain(
                    r.on_demand_feature_views
                        .values()
                        .filter(|o| o.spec.write_to_online_store)
                        .map(|o| r.stored_odfv_view(&o.spec)),
                )
            })
            .collect();
        let refs: Vec<&FeatureView> = views.iter().collect();
        for change in store.teardown(&config.project, &refs)? {
            println!("{}", change.0);
        }
    }
    if remove_registry(&config.registry_path)? {
        println!("Removed registry {}", config.registry_path.display());
    } else {
        println!("No registry at {}", config.registry_path.display());
    }
    Ok(())
}
