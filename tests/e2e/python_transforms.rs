//! Feast's Python on-demand transforms, built from the registry into sandboxed WebAssembly
//! plugins by `edgefeat plugin build-feast` (componentize-py) and served by the real binary.
//!
//! Expected answers are Feast's own: `tests/fixtures/feast-0.67/odfv-observed.json` holds what
//! `feast serve` (Feast 0.67) answered on the same repo and registry. Feast orders a view's
//! features by a per-process hash, so columns are compared by name.
//!
//! componentize-py comes from `$EDGEFEAT_COMPONENTIZE_PY` (scripts/test installs it) or PATH;
//! without it these tests say so and pass without running, and the rest of the suite is
//! unaffected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::feast_repo::feast_repo;
use crate::http::Server;
use crate::support::{edgefeat, finish};

fn componentize_py() -> Option<PathBuf> {
    let tool = std::env::var_os("EDGEFEAT_COMPONENTIZE_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("componentize-py"));
    let works = std::process::Command::new(&tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        Some(tool)
    } else {
        eprintln!(
            "SKIPPED: componentize-py is not installed ({}); scripts/test installs it (pip install componentize-py==0.25.1)",
            tool.display()
        );
        None
    }
}

fn observed() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/feast-0.67/odfv-observed.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `edgefeat plugin build-feast ARGS` in `repo`.
fn build_feast(repo: &Path, tool: &Path, args: &[&str]) -> crate::support::Run {
    let out = edgefeat(repo)
        .args(["plugin", "build-feast"])
        .args(args)
        .env("EDGEFEAT_COMPONENTIZE_PY", tool)
        .output()
        .unwrap();
    finish(out)
}

/// A response as columns by name: (values, statuses, event timestamps).
fn by_name(response: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    let names = response["metadata"]["feature_names"].as_array().unwrap();
    names
        .iter()
        .zip(response["results"].as_array().unwrap())
        .map(|(n, r)| (n.as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[track_caller]
fn assert_answers_as_feast(server: &Server, calls: &serde_json::Value) {
    for call in calls.as_array().unwrap() {
        let r = server.post_json("/get-online-features", &call["request"].to_string());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            by_name(&r.json()),
            by_name(&call["response"]),
            "{}",
            call["request"]
        );
    }
}

#[test]
fn a_feast_repos_pandas_transforms_serve_feasts_values() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let (_tmp, repo) = feast_repo(false);
    let out = build_feast(&repo, &tool, &[]).success();
    for view in ["transformed_conv_rate", "transformed_conv_rate_fresh"] {
        assert!(
            out.stdout
                .contains(&format!("Built plugin {view} (pandas mode)")),
            "{}",
            out.stdout
        );
        assert!(repo.join(format!("plugins/{view}.wasm")).exists());
    }
    // Nothing changed: nothing is rebuilt.
    let again = build_feast(&repo, &tool, &[]).success();
    assert!(
        again
            .stdout
            .contains("Plugin transformed_conv_rate is up to date."),
        "{}",
        again.stdout
    );

    let server = Server::start(&repo, &[]);
    assert_answers_as_feast(&server, &observed()["calls"]);
    let plugins = server.get("/plugins").json();
    assert!(
        plugins.to_string().contains("feast-udf-"),
        "the plugin reports the UDF's build: {plugins}"
    );
}

#[test]
fn a_python_mode_view_written_by_feast_serves_feasts_values() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let (_tmp, repo) = feast_repo(false);
    std::fs::copy(
        repo.join("python-mode/registry.db"),
        repo.join("data/registry.db"),
    )
    .unwrap();
    let out = build_feast(&repo, &tool, &["--view", "conv_rate_python"]).success();
    assert!(
        out.stdout
            .contains("Built plugin conv_rate_python (python mode)"),
        "{}",
        out.stdout
    );
    let server = Server::start(&repo, &[]);
    assert_answers_as_feast(&server, &observed()["python_mode"]["calls"]);
}

/// The fixture repo with its registry as edgefeat's JSON (`registry-dump`), the UDF of `view`
/// replaced by `body`.
fn with_udf(repo: &Path, bodies: &[(&str, &str)]) {
    let dump = crate::support::run(repo, &["registry-dump"])
        .success()
        .stdout;
    let mut registry: serde_json::Value = serde_json::from_str(&dump).unwrap();
    // The dump of a Feast registry, as edgefeat's own registry file.
    registry["format"] = serde_json::json!("edgefeat-registry");
    registry["format_version"] = serde_json::json!(1);
    for (view, body) in bodies {
        registry["on_demand_feature_views"][view]["spec"]["python_udf"]["body_text"] =
            serde_json::json!(body);
    }
    std::fs::write(repo.join("data/registry.db"), registry.to_string()).unwrap();
}

const RAISES: &str = "@on_demand_feature_view(sources=[driver_stats_fv, input_request], schema=[])\ndef transformed_conv_rate(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n    if len(inputs) > 0:\n        raise ValueError(\"conv_rate out of range\")\n    return df\n";
const LOOPS: &str = "def transformed_conv_rate_fresh(inputs: pd.DataFrame) -> pd.DataFrame:\n    while True:\n        pass\n";
const UNSUPPORTED: &str = "def transformed_conv_rate(inputs: pd.DataFrame) -> pd.DataFrame:\n    df = pd.DataFrame()\n    df[\"conv_rate_plus_val1\"] = inputs[\"conv_rate\"].rolling(2)\n    df[\"conv_rate_plus_val2\"] = inputs[\"conv_rate\"]\n    return df\n";

#[test]
fn a_raising_udf_answers_its_exception_and_a_looping_one_is_stopped_at_the_deadline() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let (_tmp, repo) = feast_repo(false);
    with_udf(
        &repo,
        &[
            ("transformed_conv_rate", RAISES),
            ("transformed_conv_rate_fresh", LOOPS),
        ],
    );
    // The trial run fails on both; they are installed with a warning (the failure depends on
    // the data, which the build cannot know).
    let out = build_feast(&repo, &tool, &[]).success();
    assert!(
        out.stderr.contains("ValueError: conv_rate out of range"),
        "{}",
        out.stderr
    );

    let server = Server::start(&repo, &[]);
    let r = server.post_json(
        "/get-online-features",
        r#"{"features":["transformed_conv_rate:conv_rate_plus_val1"],"entities":{"driver_id":[1001],"val_to_add":[1],"val_to_add_2":[2]}}"#,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.text().contains("ValueError: conv_rate out of range"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("Traceback"), "{}", r.text());

    // A loop never returns: the deadline stops it, and plain reads keep answering meanwhile.
    let looping = r#"{"features":["transformed_conv_rate_fresh:conv_rate_plus_val1"],"entities":{"driver_id":[1001],"val_to_add":[1],"val_to_add_2":[2]}}"#;
    let started = Instant::now();
    let r = server.post_json("/get-online-features", looping);
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("exceeded its time limit"), "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(10));
    std::thread::scope(|s| {
        let spinning = s.spawn(|| {
            for _ in 0..4 {
                server.post_json("/get-online-features", looping);
            }
        });
        let plain =
            r#"{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001]}}"#;
        for _ in 0..20 {
            let started = Instant::now();
            let r = server.post_json("/get-online-features", plain);
            assert_eq!(r.status, 200, "{}", r.text());
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "a plain read waited {:?} behind a spinning transform",
                started.elapsed()
            );
        }
        spinning.join().unwrap();
    });
}

#[test]
fn a_udf_using_pandas_beyond_the_sandbox_is_refused_at_build_naming_the_call() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let (_tmp, repo) = feast_repo(false);
    with_udf(&repo, &[("transformed_conv_rate", UNSUPPORTED)]);
    let out = build_feast(&repo, &tool, &["--view", "transformed_conv_rate"]).failure();
    assert!(
        out.stderr
            .contains("pandas operation `Series.rolling` is not supported"),
        "{}",
        out.stderr
    );
    assert!(!repo.join("plugins/transformed_conv_rate.wasm").exists());
}

#[test]
fn plugin_new_lang_python_builds_and_checks() {
    let Some(tool) = componentize_py() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    crate::support::run(
        tmp.path(),
        &["plugin", "new", "py_rate", "--lang", "python"],
    )
    .success();
    for f in ["app.py", "wit/plugin.wit", "README.md"] {
        assert!(tmp.path().join("py_rate").join(f).is_file(), "{f}");
    }
    let out = finish(
        edgefeat(tmp.path())
            .args(["plugin", "build", "py_rate"])
            .env("EDGEFEAT_COMPONENTIZE_PY", &tool)
            .output()
            .unwrap(),
    )
    .success();
    assert!(
        out.stdout.contains("plugin `py_rate` version 0.1.0"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("conv_rate_plus_val1  float64"),
        "{}",
        out.stdout
    );
    let out =
        crate::support::run(tmp.path(), &["plugin", "check", "py_rate/py_rate.wasm"]).success();
    assert!(out.stdout.contains("val_to_add"), "{}", out.stdout);
}
