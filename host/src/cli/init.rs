//! `edgefeat init [NAME]`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::repo::template::{init_repo, random_name};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repo (and project) name; a random one when left out.
    pub name: Option<String>,
}

pub(super) fn run(cwd: &Path, args: &InitArgs) -> Result<()> {
    let now = chrono::Utc::now();
    let name = args.name.clone().unwrap_or_else(|| random_name(now));
    let dir = init_repo(cwd, &name, now)?;
    println!(
        "\nCreating a new edgefeat repository in {}.\n",
        dir.display()
    );
    println!("Next: cd {name} && edgefeat apply");
    Ok(())
}
