//! `edgefeat init [NAME]`.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::repo::template::{Template, init_template, random_name};

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repo (and project) name; a random one when left out.
    pub name: Option<String>,
    /// The repo to create: `local` (Feast's driver demo) or `rag` (documents with a vector
    /// field, searched by /search).
    #[arg(short = 't', long, value_enum, default_value_t = Template::Local)]
    pub template: Template,
}

pub(super) fn run(cwd: &Path, args: &InitArgs) -> Result<()> {
    let now = crate::types::clock::now();
    let name = args.name.clone().unwrap_or_else(|| random_name(now));
    let dir = init_template(cwd, &name, now, args.template)?;
    println!(
        "\nCreating a new edgefeat repository in {}.\n",
        dir.display()
    );
    println!("Next: cd {name} && edgefeat apply");
    Ok(())
}
