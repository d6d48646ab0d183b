//! `edgefeat teardown`.

use anyhow::Result;

use crate::online;
use crate::registry::remove_registry;
use crate::repo::RepoConfig;

pub(super) fn run(config: &RepoConfig) -> Result<()> {
    if online::exists(config) {
        let store = online::open(config)?;
        for change in store.teardown(&config.project)? {
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
