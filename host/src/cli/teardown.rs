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
        match online::open(config) {
            Ok(store) => remove_tables(config, &*store)?,
            // Refused because LMDB would crash on its file: removed unopened, which is what
            // the refusal tells the user to do with teardown.
            Err(e) => match e.downcast_ref::<online::DamagedStore>() {
                Some(damaged) => println!("{}", damaged.remove()?.0),
                None => return Err(e),
            },
        }
    }
    if remove_registry(&config.registry_path)? {
        println!("Removed registry {}", config.registry_path.display());
    } else {
        println!("No registry at {}", config.registry_path.display());
    }
    Ok(())
}

/// Removes the registered views' tables from an open store (and, for LMDB, the store).
fn remove_tables(config: &RepoConfig, store: &dyn online::OnlineStore) -> Result<()> {
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
    Ok(())
}
