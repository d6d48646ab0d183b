use super::*;
use crate::repo::config::PluginStoreConfig;

/// The two variables the configs below use.
fn vars(name: &str) -> Option<String> {
    match name {
        "EDGEFEAT_TEST_TIMEOUT" => Some("70".into()),
        "EDGEFEAT_TEST_CLIENT" => Some("app".into()),
        _ => None,
    }
}

/// `yaml` as the config of a repo at `dir`, its variables expanded by [`vars`], read from
/// `dir/feature_store.yaml` as the CLI does.
fn config_at(dir: &Path, yaml: &str) -> RepoConfig {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("feature_store.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut config = RepoConfig::from_text(dir, &expand_vars(yaml, vars), "test").unwrap();
    config.config_file = Some(file);
    config
}

#[test]
fn the_new_config_keeps_the_store_plugins_and_auth_files_and_gets_its_own_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    let source = config_at(
        &src,
        "\
project: shop
project_description: the shop
registry:
  registry_type: file
  path: data/feast.db
  cache_ttl_seconds: 60
online_store:
  type: plugin
  plugin: adapter
  config: {key_prefix: \"edgefeat:\", retries: 3}
  kv:
    type: lmdb
    path: store/kv
plugins:
  path: wasm
  cache_dir: cache
  timeout_ms: ${EDGEFEAT_TEST_TIMEOUT}
auth:
  type: oidc
  jwks_path: keys/jwks.json
  ca_cert_path: /etc/ca.pem
  client_id: ${EDGEFEAT_TEST_CLIENT}
feature_server:
  enforce_ttl: true
",
    );
    let (text, warnings) = feature_store_yaml(&source, "shop").unwrap();
    assert_eq!(warnings, Vec::<String>::new());
    // The variables are written as they were: no value is copied, and a number stays one.
    assert!(
        text.contains("\n  timeout_ms: ${EDGEFEAT_TEST_TIMEOUT}\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  client_id: ${EDGEFEAT_TEST_CLIENT}\n"),
        "{text}"
    );

    let new = config_at(&out, &text);
    assert_eq!(new.project, "shop");
    assert_eq!(new.project_description.as_deref(), Some("the shop"));
    assert_eq!(new.registry_path, out.join("data/registry.db"));
    assert_eq!(new.registry_cache_ttl_seconds, 60);
    assert_eq!(new.online_store, source.online_store, "the same store");
    let OnlineStoreConfig::Plugin(PluginStoreConfig {
        kv: Some(KvConfig::Lmdb(kv)),
        ..
    }) = &new.online_store
    else {
        panic!("{:?}", new.online_store)
    };
    assert_eq!(kv.path, src.join("store/kv"));
    assert_eq!(new.plugins.path, src.join("wasm"));
    assert_eq!(new.plugins.limits, source.plugins.limits);
    assert_eq!(
        new.plugins.cache_dir,
        out.join("cache"),
        "a cache of its own"
    );
    assert_eq!(new.auth, source.auth, "the same keys and CA");
    assert_eq!(new.feature_server, source.feature_server);
    assert_eq!(new.warnings, Vec::<String>::new());
}

#[test]
fn a_config_without_paths_gets_the_source_repos_defaults_written_out() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    let source = config_at(&src, "project: shop\nregistry: /var/lib/registry.db\n");
    std::fs::create_dir_all(&out).unwrap();
    let (text, _) = feature_store_yaml(&source, "shop").unwrap();
    assert_eq!(
        text.split_once("\n\n").unwrap().1,
        format!(
            "project: shop\n\nregistry: data/registry.db\n\nonline_store:\n  path: {}\n\nplugins:\n  path: {}\n",
            src.join("data/online_store.lmdb").display(),
            src.join("plugins").display()
        )
    );
    let new = RepoConfig::from_text(&out, &text, "out").unwrap();
    assert_eq!(new.online_store, source.online_store);
    assert_eq!(new.plugins.path, source.plugins.path);
}

#[test]
fn paths_resolve_lexically_and_through_symlinks() {
    assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(canonical(&link.join("x/y")), canonical(&real.join("x/y")));
    assert_ne!(canonical(&link.join("x")), canonical(&real.join("y")));
}

#[test]
fn relative_file_source_paths_become_absolute_and_urls_stay() {
    let mut registry = crate::registry::diff_and_merge(
        None,
        Default::default(),
        crate::registry::Project {
            name: "p".into(),
            description: String::new(),
            tags: Default::default(),
            owner: String::new(),
        },
        chrono::DateTime::UNIX_EPOCH,
    )
    .0;
    for (name, path) in [
        ("rel", "data/../x.parquet"),
        ("abs", "/d/y.parquet"),
        ("url", "s3://b/z.parquet"),
    ] {
        let spec = crate::registry::DataSource {
            name: name.into(),
            kind: SourceKind::File {
                path: path.into(),
                timestamp_field: "ts".into(),
                created_timestamp_column: String::new(),
                field_mapping: Default::default(),
            },
            description: String::new(),
            tags: Default::default(),
            owner: String::new(),
        };
        let meta = registry.project.meta.clone();
        registry
            .data_sources
            .insert(name.into(), crate::registry::Stored { spec, meta });
    }
    absolute_source_paths(&mut registry, Path::new("/repo"));
    let path = |n: &str| match &registry.data_sources[n].spec.kind {
        SourceKind::File { path, .. } => path.clone(),
        _ => unreachable!(),
    };
    assert_eq!(path("rel"), PathBuf::from("/repo/x.parquet"));
    assert_eq!(path("abs"), PathBuf::from("/d/y.parquet"));
    assert_eq!(path("url"), PathBuf::from("s3://b/z.parquet"));
}
