//! How the binary finds and reads `feature_store.yaml`: -c, -f, FEATURE_STORE_YAML_BASE64,
//! `${VAR}` expansion, unknown keys and types.

use base64::Engine as _;

use crate::support::{demo_repo, edgefeat, finish, run};

#[test]
fn chdir_runs_against_another_directory() {
    let (tmp, repo) = demo_repo();
    let r = run(tmp.path(), &["-c", "demo", "apply"]).success();
    assert!(r.stdout.contains("Created entity driver"), "{}", r.stdout);
    assert!(repo.join("data/registry.db").exists());
    let r = run(tmp.path(), &["--chdir", "nowhere", "apply"]).failure();
    assert!(
        r.stderr.contains("-c/--chdir: cannot enter nowhere"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_repo_here_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(tmp.path(), &["apply"]).failure();
    assert!(r.stderr.contains("no feature repo here"), "{}", r.stderr);
    assert!(r.stderr.contains("edgefeat init NAME"), "{}", r.stderr);
}

#[test]
fn feature_store_yaml_flag_env_base64_and_variables() {
    let (_tmp, repo) = demo_repo();
    let yaml = std::fs::read_to_string(repo.join("feature_store.yaml")).unwrap();
    let alt = yaml.replace("registry: data/registry.db", "registry: ${REG_DIR}/alt.db");
    std::fs::create_dir(repo.join("conf")).unwrap();
    std::fs::write(repo.join("conf/alt.yaml"), &alt).unwrap();
    // `-f` names the file; `${REG_DIR}` comes from the environment. The config file in use
    // is never read as a definitions file.
    let out = edgefeat(&repo)
        .args(["-f", "conf/alt.yaml", "apply"])
        .env("REG_DIR", "data/alt")
        .output()
        .unwrap();
    finish(out).success();
    assert!(repo.join("data/alt/alt.db").exists());
    // Config files kept beside the main one are not definitions either.
    std::fs::rename(
        repo.join("conf/alt.yaml"),
        repo.join("feature_store.alt.yaml"),
    )
    .unwrap();

    // FEATURE_STORE_YAML_BASE64 replaces the file altogether.
    let b64_yaml = yaml.replace("registry: data/registry.db", "registry: data/b64.db");
    let encoded = base64::engine::general_purpose::STANDARD.encode(b64_yaml);
    let out = edgefeat(&repo)
        .arg("apply")
        .env("FEATURE_STORE_YAML_BASE64", encoded)
        .output()
        .unwrap();
    finish(out).success();
    assert!(repo.join("data/b64.db").exists());

    let out = edgefeat(&repo)
        .arg("apply")
        .env("FEATURE_STORE_YAML_BASE64", "%%%")
        .output()
        .unwrap();
    let r = finish(out).failure();
    assert!(
        r.stderr
            .contains("FEATURE_STORE_YAML_BASE64 is not valid base64"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_keys_warn_and_unknown_types_fail() {
    let (_tmp, repo) = demo_repo();
    let path = repo.join("feature_store.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{yaml}flavour: vanilla\n")).unwrap();
    let r = run(&repo, &["apply"]).success();
    assert!(
        r.stderr.starts_with("warning: ") && r.stderr.contains("unknown key `flavour` ignored"),
        "{}",
        r.stderr
    );
    std::fs::write(&path, yaml.replace("type: lmdb", "type: dynamodb")).unwrap();
    let r = run(&repo, &["apply"]).failure();
    assert!(
        r.stderr.contains(
            "online_store.type `dynamodb` is not supported; supported: lmdb, sqlite, redis, plugin"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_log_level_is_refused_with_the_levels() {
    let (_tmp, repo) = demo_repo();
    let r = run(&repo, &["--log-level", "verbose", "plan"]).failure();
    assert!(
        r.stderr
            .contains("[possible values: critical, error, warning, info, debug]"),
        "{}",
        r.stderr
    );
    // Python's logging takes any case; so do we.
    run(&repo, &["--log-level", "DEBUG", "plan"]).success();
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let (_tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    for args in [&["registry-dump"][..], &["feature-views", "list"]] {
        let mut child = edgefeat(&repo)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // `| head -0`: the read end closes before the first write.
        drop(child.stdout.take());
        let r = finish(child.wait_with_output().expect("the binary ends"));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
}
