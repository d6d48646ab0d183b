use super::*;

fn load(text: &str) -> Result<RepoConfig> {
    RepoConfig::from_text(Path::new("/repo"), text, "feature_store.yaml")
}

fn plugin_store(yaml: &str) -> Result<PluginStoreConfig> {
    match load(&format!("project: p\nonline_store:\n{yaml}"))?.online_store {
        OnlineStoreConfig::Plugin(p) => Ok(p),
        other => panic!("not a plugin store: {other:?}"),
    }
}

#[test]
fn a_plugin_store_takes_its_adapter_config_kv_and_allow_list() {
    let p = plugin_store(
        "  type: plugin\n  plugin: my-adapter\n  config: {key_prefix: 'x:', key_ttl_seconds: 60, debug: true}\n  kv:\n    type: redis\n    connection_string: 'r1:7000,r2,password=p@ss word,db=2'\n    redis_type: redis_cluster\n    timeout_ms: 250\n  allow_connect: ['10.0.0.5:6379', '[::1]:7000']\n",
    )
    .unwrap();
    assert_eq!(p.plugin, "my-adapter");
    assert_eq!(
        p.config,
        [
            ("debug".to_string(), "true".to_string()),
            ("key_prefix".to_string(), "x:".to_string()),
            ("key_ttl_seconds".to_string(), "60".to_string())
        ]
    );
    assert_eq!(
        p.kv,
        Some(KvConfig::Redis(RedisConfig {
            urls: vec![
                "redis://:p%40ss%20word@r1:7000/2".to_string(),
                "redis://:p%40ss%20word@r2:6379/2".to_string()
            ],
            cluster: true,
            timeout: std::time::Duration::from_millis(250),
            display: "r1:7000,r2:6379".to_string(),
        }))
    );
    assert_eq!(p.allow_connect.len(), 2);
}

#[test]
fn plugin_store_defaults_and_urls() {
    let p = plugin_store("  type: plugin\n  plugin: a\n  kv: {type: lmdb}\n").unwrap();
    assert_eq!(
        p.kv,
        Some(KvConfig::Lmdb(KvLmdbConfig {
            path: "/repo/data/kv.lmdb".into(),
            map_size: DEFAULT_MAP_SIZE
        }))
    );
    assert!(p.config.is_empty() && p.allow_connect.is_empty());
    let p = plugin_store("  type: plugin\n  plugin: a\n").unwrap();
    assert_eq!(p.kv, None);
    let p = plugin_store(
        "  type: plugin\n  plugin: a\n  kv: {connection_string: 'redis://u:pw@h:1/0'}\n",
    )
    .unwrap();
    let Some(KvConfig::Redis(r)) = p.kv else {
        panic!("redis")
    };
    assert_eq!(
        (r.urls[0].as_str(), r.display.as_str()),
        ("redis://u:pw@h:1/0", "h:1")
    );
    assert_eq!(r.timeout, std::time::Duration::from_millis(500));
}

#[test]
fn plugin_store_mistakes_are_named() {
    let err = |yaml: &str| format!("{:#}", plugin_store(yaml).unwrap_err());
    assert_eq!(
        err("  type: plugin\n"),
        "feature_store.yaml: online_store.plugin: missing: name the store adapter (`plugin: NAME` loads plugins/NAME.wasm)"
    );
    assert!(
        err("  type: plugin\n  plugin: plugins/a.wasm\n")
            .contains("must be a plugin name, not a path")
    );
    assert_eq!(
        err("  type: plugin\n  plugin: a\n  kv: {type: memcached}\n"),
        "feature_store.yaml: online_store.kv.type `memcached` is not supported; supported: lmdb, redis"
    );
    assert!(
        err("  type: plugin\n  plugin: a\n  kv: {connection_string: 'h:1,ssl=true'}\n")
            .contains("TLS to Redis")
    );
    assert!(
        err("  type: plugin\n  plugin: a\n  kv: {connection_string: 'h:x'}\n")
            .contains("`h:x` is not host:port")
    );
    assert!(
        err("  type: plugin\n  plugin: a\n  kv: {connection_string: 'h:1,colour=red'}\n")
            .contains("unknown option `colour`")
    );
    assert!(
        err("  type: plugin\n  plugin: a\n  kv: {redis_type: redis_sentinel}\n")
            .contains("redis_type `redis_sentinel` is not supported")
    );
    assert_eq!(
        err("  type: plugin\n  plugin: a\n  allow_connect: [localhost]\n"),
        "feature_store.yaml: online_store.allow_connect: `localhost` is not an IP address and port (like 10.0.0.5:6379)"
    );
}

#[test]
fn defaults_match_feast_with_lmdb_online_store() {
    let c = load("project: demo\n").unwrap();
    assert_eq!(c.project, "demo");
    assert_eq!(c.registry_path, Path::new("/repo/data/registry.db"));
    assert_eq!(
        c.online_store,
        OnlineStoreConfig::Lmdb(LmdbConfig {
            path: "/repo/data/online_store.lmdb".into(),
            map_size: DEFAULT_MAP_SIZE,
            write_policy: WritePolicy::NewerWins,
        })
    );
    assert_eq!(c.auth, AuthConfig::NoAuth);
    assert!(c.warnings.is_empty());
}

#[test]
fn the_feast_template_file_loads() {
    let c = load(
        "project: my_project\nregistry: data/registry.db\nprovider: local\nonline_store:\n    type: lmdb\n    path: data/online.lmdb\nentity_key_serialization_version: 3\nauth:\n    type: no_auth\n",
    )
    .unwrap();
    let OnlineStoreConfig::Lmdb(lmdb) = &c.online_store else {
        panic!("lmdb")
    };
    assert_eq!(lmdb.path, Path::new("/repo/data/online.lmdb"));
}

#[test]
fn a_feast_sqlite_store_config_loads() {
    let sqlite = |yaml: &str| match load(&format!("project: p\nonline_store:\n{yaml}")) {
        Ok(c) => match c.online_store {
            OnlineStoreConfig::Sqlite(s) => Ok((s, c.warnings)),
            other => panic!("not a sqlite store: {other:?}"),
        },
        Err(e) => Err(e.to_string()),
    };
    // The file `feast init` writes.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/feast-0.67/feature_store.yaml");
    let c = load(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    assert_eq!(c.project, "feature_repo");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.online_store,
        OnlineStoreConfig::Sqlite(SqliteConfig {
            path: "/repo/data/online_store.db".into(),
            busy_timeout: std::time::Duration::from_secs(5),
            journal_mode: None,
        })
    );
    // Feast's default path, an absolute one, the class path as type, edgefeat's own keys.
    let (s, _) = sqlite("  type: sqlite\n").unwrap();
    assert_eq!(s.path, Path::new("/repo/data/online.db"));
    let (s, _) = sqlite("  type: sqlite\n  path: /var/feast/online.db\n").unwrap();
    assert_eq!(s.path, Path::new("/var/feast/online.db"));
    let (s, _) = sqlite(
        "  type: feast.infra.online_stores.sqlite.SqliteOnlineStore\n  busy_timeout_ms: 250\n  journal_mode: WAL\n",
    )
    .unwrap();
    assert_eq!(
        (s.busy_timeout, s.journal_mode.as_deref()),
        (std::time::Duration::from_millis(250), Some("wal"))
    );
    assert_eq!(
        sqlite("  type: sqlite\n  journal_mode: off\n").unwrap_err(),
        "feature_store.yaml: online_store.journal_mode `off` is not supported; supported: delete, truncate, persist, memory, wal"
    );
    // Feast options whose columns edgefeat leaves NULL are accepted, with a warning.
    let (_, warnings) =
        sqlite("  type: sqlite\n  vector_enabled: true\n  text_search_enabled: false\n").unwrap();
    assert_eq!(
        warnings,
        [
            "feature_store.yaml: online_store.vector_enabled: rows edgefeat writes leave `vector_value` NULL, so Feast's vector search does not see them"
        ]
    );
}

#[test]
fn lmdb_map_size_and_write_policy() {
    let c =
        load("project: p\nonline_store:\n  map_size: 512MiB\n  write_policy: last_write_wins\n")
            .unwrap();
    let OnlineStoreConfig::Lmdb(lmdb) = &c.online_store else {
        panic!("lmdb")
    };
    assert_eq!(
        (lmdb.map_size, lmdb.write_policy),
        (512 << 20, WritePolicy::LastWriteWins)
    );
    let c = load("project: p\nonline_store:\n  map_size: 4096\n").unwrap();
    let OnlineStoreConfig::Lmdb(lmdb) = &c.online_store else {
        panic!("lmdb")
    };
    assert_eq!(lmdb.map_size, 4096);
    let e = load("project: p\nonline_store:\n  map_size: 10 parsecs\n").unwrap_err();
    assert!(e.to_string().contains("unknown size unit `parsecs`"), "{e}");
    let e = load("project: p\nonline_store:\n  write_policy: random\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("supported: newer_wins, last_write_wins"),
        "{e}"
    );
}

#[test]
fn registry_as_a_map() {
    let c = load(
        "project: p\nregistry:\n  registry_type: file\n  path: reg/r.db\n  cache_ttl_seconds: 5\n",
    )
    .unwrap();
    assert_eq!(c.registry_path, Path::new("/repo/reg/r.db"));
    assert_eq!(c.registry_cache_ttl_seconds, 5);
    // Feast's mapping form with the keys edgefeat does not need (cache_mode, …) still loads.
    let c =
        load("project: p\nregistry:\n  path: data/registry.db\n  cache_mode: thread\n").unwrap();
    assert_eq!(c.registry_path, Path::new("/repo/data/registry.db"));
    assert_eq!(c.registry_cache_ttl_seconds, 600);
    let c = load("project: p\nregistry: file:///abs/registry.db\n").unwrap();
    assert_eq!(c.registry_path, Path::new("/abs/registry.db"));
    // What is not supported yet says so by name.
    for (yaml, says) in [
        (
            "registry:\n  registry_type: sql\n  path: postgresql://u@db/feast\n",
            "registry_type `sql`: Feast's SQL registry is not supported yet",
        ),
        (
            "registry:\n  registry_type: remote\n  path: host:6570\n",
            "registry_type `remote`: a remote registry (`feast serve_registry`) is not supported yet",
        ),
        (
            "registry: s3://bucket/feast/registry.db\n",
            "registry `s3://bucket/feast/registry.db`: registries on S3 are not supported yet",
        ),
        (
            "registry:\n  path: gs://bucket/registry.db\n",
            "registries on Google Cloud Storage are not supported yet",
        ),
    ] {
        let err = load(&format!("project: p\n{yaml}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{yaml}: {err}");
    }
}

#[test]
fn unknown_keys_warn_with_the_known_ones() {
    let c = load("project: p\nonline_store:\n  type: lmdb\n  pth: x\nfoo: 1\n").unwrap();
    assert_eq!(
        c.warnings,
        [
            "feature_store.yaml: unknown key `foo` ignored; known keys here: project, project_description, registry, provider, online_store, offline_store, batch_engine, entity_key_serialization_version, auth, feature_server, materialization, coerce_tz_aware, flags, repo_path, embedding_model, openlineage, mlflow, data_quality_monitoring, plugins",
            "feature_store.yaml: unknown key `online_store.pth` ignored; known keys here: type, path, map_size, write_policy, plugin, config, kv, allow_connect, text_search_enabled, enable_openai_compatible_store, vector_enabled, similarity, vector_len, busy_timeout_ms, journal_mode, redis_type, connection_string, key_ttl_seconds, full_scan_for_deletion, skip_dedup, client, sentinel_master, timeout_ms, missing_entities",
        ]
    );
}

#[test]
fn unknown_types_fail_with_the_supported_list() {
    let e = load("project: p\nonline_store:\n  type: dynamodb\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "feature_store.yaml: online_store.type `dynamodb` is not supported; supported: lmdb, sqlite, redis, plugin"
    );
    let e = load("project: p\nauth:\n  type: kubernetes\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "feature_store.yaml: auth.type `kubernetes` is not supported; supported: no_auth, oidc"
    );
    let e = load("project: p\noffline_store:\n  type: bigquery\n").unwrap_err();
    assert!(e.to_string().contains("supported: file, dask"));
}

#[test]
fn bad_values_are_explained() {
    assert!(
        load("registry: x\n")
            .unwrap_err()
            .to_string()
            .contains("`project` is required")
    );
    assert!(
        load("project: _bad\n")
            .unwrap_err()
            .to_string()
            .contains("project name `_bad` is invalid")
    );
    assert!(
        load("project: p\nentity_key_serialization_version: 2\n")
            .unwrap_err()
            .to_string()
            .contains("version 3 only")
    );
    let e = load("project: p\nonline_store: [\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("feature_store.yaml: "), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn oidc_settings_are_typed() {
    let c = load(
        "project: p\nauth:\n  type: oidc\n  auth_discovery_url: https://idp/realms/r/.well-known/openid-configuration\n  client_id: edge\n  audience: edge-api\n  issuer: https://idp/realms/r\n  jwks_cache_lifespan_seconds: 60\n  roles_claim: realm_access.roles\n",
    )
    .unwrap();
    assert_eq!(
        c.auth,
        AuthConfig::Oidc(OidcConfig {
            auth_discovery_url: Some(
                "https://idp/realms/r/.well-known/openid-configuration".into()
            ),
            jwks_path: None,
            client_id: Some("edge".into()),
            audience: Some("edge-api".into()),
            issuer: Some("https://idp/realms/r".into()),
            jwks_cache_lifespan_seconds: 60,
            jwks_request_timeout_seconds: 10,
            ca_cert_path: None,
            roles_claim: Some(vec!["realm_access".into(), "roles".into()]),
        })
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let c = load("project: p\nauth:\n  type: oidc\n  jwks_path: keys/jwks.json\n").unwrap();
    let AuthConfig::Oidc(o) = &c.auth else {
        panic!("{:?}", c.auth)
    };
    assert_eq!(
        o.jwks_path.as_deref(),
        Some(Path::new("/repo/keys/jwks.json"))
    );
    assert_eq!(o.jwks_cache_lifespan_seconds, 300);
}

#[test]
fn oidc_settings_expand_env_vars() {
    let text = expand_vars(
        "project: p\nauth:\n  type: oidc\n  jwks_path: ${KEYS}/jwks.json\n  audience: ${AUD}\n  issuer: ${UNSET_ISS}\n",
        |k| match k {
            "KEYS" => Some("/etc/keys".into()),
            "AUD" => Some(String::new()),
            _ => None,
        },
    );
    let c = load(&text).unwrap();
    let AuthConfig::Oidc(o) = &c.auth else {
        panic!("{:?}", c.auth)
    };
    assert_eq!(
        o.jwks_path.as_deref(),
        Some(Path::new("/etc/keys/jwks.json"))
    );
    // Expanded to nothing: not configured, so not checked.
    assert_eq!(o.audience, None);
    // Unknown variables stay as written, as in Feast.
    assert_eq!(o.issuer.as_deref(), Some("${UNSET_ISS}"));
}

#[test]
fn oidc_settings_are_checked() {
    let e = load("project: p\nauth:\n  type: oidc\n").unwrap_err();
    assert!(e.to_string().contains("set `auth_discovery_url`"), "{e}");
    let e = load("project: p\nauth:\n  type: oidc\n  auth_discovery_url: idp.local\n").unwrap_err();
    assert!(
        e.to_string().contains("must be an http:// or https:// URL"),
        "{e}"
    );
    let e = load("project: p\nauth:\n  type: oidc\n  jwks_path: k.json\n  roles_claim: a..b\n")
        .unwrap_err();
    assert!(e.to_string().contains("is not a claim path"), "{e}");
    let e = load("project: p\nauth:\n  type: oidc\n  jwks_path: k.json\n  verify_ssl: false\n")
        .unwrap_err();
    assert!(e.to_string().contains("ca_cert_path"), "{e}");
}

#[test]
fn expand_vars_like_python() {
    let env = |k: &str| match k {
        "HOME" => Some("/h".to_string()),
        "A_1" => Some("x".to_string()),
        _ => None,
    };
    assert_eq!(expand_vars("$HOME/a ${A_1}b", env), "/h/a xb");
    assert_eq!(
        expand_vars("$NOPE ${NOPE} $ $$ ${", env),
        "$NOPE ${NOPE} $ $$ ${"
    );
    assert_eq!(expand_vars("price: 5$", env), "price: 5$");
}

proptest::proptest! {
    #[test]
    fn expand_vars_without_dollars_is_identity(s in "[^$]{0,64}") {
        proptest::prop_assert_eq!(expand_vars(&s, |_| Some("X".into())), s);
    }
}

fn redis_store(yaml: &str) -> Result<RedisStoreConfig> {
    match load(&format!("project: p\nonline_store:\n{yaml}"))?.online_store {
        OnlineStoreConfig::Redis(r) => Ok(r),
        other => panic!("not a redis store: {other:?}"),
    }
}

#[test]
fn a_redis_store_takes_feasts_keys() {
    let r = redis_store(
        "  type: redis\n  redis_type: redis_cluster\n  connection_string: 'r1:7000,r2:7001,password=pw,skip_full_coverage_check=true'\n  key_ttl_seconds: 3600\n  skip_dedup: true\n  full_scan_for_deletion: false\n",
    )
    .unwrap();
    assert!(r.client.cluster);
    assert_eq!(
        r.client.urls,
        ["redis://:pw@r1:7000/0", "redis://:pw@r2:7001/0"]
    );
    assert_eq!(r.client.display, "r1:7000,r2:7001");
    assert_eq!(r.key_ttl_seconds, Some(3600));
    assert!(r.skip_dedup);
    assert!(!r.full_scan_for_deletion);
    assert_eq!(r.missing_entities, MissingEntities::Present);
    assert_eq!(r.client.timeout, std::time::Duration::from_millis(500));

    // Feast's defaults, and its class path for the type.
    let r = redis_store("  type: feast.infra.online_stores.redis.RedisOnlineStore\n").unwrap();
    assert!(!r.client.cluster);
    assert_eq!(r.client.urls, ["redis://localhost:6379/0"]);
    assert_eq!(r.key_ttl_seconds, None);
    assert!(!r.skip_dedup);
    assert!(r.full_scan_for_deletion);
    let r = redis_store("  type: redis\n  key_ttl_seconds: 0\n  missing_entities: not_found\n")
        .unwrap();
    assert_eq!(r.key_ttl_seconds, None);
    assert_eq!(r.missing_entities, MissingEntities::NotFound);
}

#[test]
fn a_redis_store_refuses_what_it_cannot_do_by_name() {
    let err = |yaml: &str| redis_store(yaml).unwrap_err().to_string();
    assert!(
        err("  type: redis\n  redis_type: redis_sentinel\n")
            .contains("redis_sentinel` is not supported yet"),
    );
    assert!(err("  type: redis\n  connection_string: 'h:1,ssl=true'\n").contains("TLS to Redis"));
    assert!(err("  type: redis\n  key_ttl_seconds: -5\n").contains("must not be negative"));
    assert!(err("  type: redis\n  client: memcached\n").contains("client `memcached`"));
    assert!(
        err("  type: redis\n  connection_string: 'h:1,frobnicate=1'\n")
            .contains("unknown option `frobnicate`")
    );
    assert!(err("  type: redis\n  missing_entities: maybe\n").contains("missing_entities `maybe`"));
    assert!(err("  type: redis\n  timeout_ms: 0\n").contains("timeout_ms must be at least 1"));
}
