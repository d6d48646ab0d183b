//! Feast's own generated Python stubs as the client of the gRPC front
//! (`fixtures/feast_stubs_client.py`): `ServingService.GetOnlineFeatures` and
//! `GrpcFeatureServer.GetOnlineFeatures` answer what HTTP answers, `GrpcFeatureServer.Push`
//! writes what a read then returns, and an unknown view is NOT_FOUND with Feast's message.
//!
//! The Python comes from `$EDGEFEAT_FEAST_PYTHON`: an interpreter with `feast==0.67.0` and
//! `grpcio` (scripts/test installs them into a cached venv). Without it this test says so and
//! passes without running; the rest of the suite is unaffected.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::grpc::materialized_demo;
use crate::http::Server;
use crate::support::clock;

fn feast_python() -> Option<PathBuf> {
    let python = std::env::var_os("EDGEFEAT_FEAST_PYTHON").map(PathBuf::from)?;
    let works = std::process::Command::new(&python)
        .args(["-c", "import feast, grpc"])
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(python)
}

/// Asserts that a column as Feast's stubs decoded it says what HTTP said.
#[track_caller]
fn assert_same_column(name: &str, stubs: &Json, http: &Json) {
    assert_eq!(stubs["statuses"], http["statuses"], "statuses of {name}");
    let stamps: Vec<String> = stubs["event_timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            chrono::DateTime::from_timestamp(s.as_i64().unwrap(), 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .collect();
    assert_eq!(
        json!(stamps),
        http["event_timestamps"],
        "timestamps of {name}"
    );
    let (ours, theirs) = (
        stubs["values"].as_array().unwrap(),
        http["values"].as_array().unwrap(),
    );
    assert_eq!(ours.len(), theirs.len(), "values of {name}");
    for (a, b) in ours.iter().zip(theirs) {
        match (a.as_f64(), b.as_f64()) {
            // A float32 printed by Python as the double it widens to, and by HTTP as its
            // shortest float32 text.
            (Some(x), Some(y)) => assert!((x - y).abs() <= 1e-6 * y.abs().max(1.0), "{name}"),
            _ => assert_eq!(a, b, "values of {name}"),
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/feast_stubs_client.py")
}

#[test]
fn feasts_python_stubs_read_and_push() {
    let Some(python) = feast_python() else {
        eprintln!(
            "SKIPPED: no Python with feast==0.67.0 and grpcio in $EDGEFEAT_FEAST_PYTHON; scripts/test installs one"
        );
        return;
    };
    let (_tmp, repo) = materialized_demo();
    let (server, addrs) = Server::start_with_lines(&repo, &["--grpc-port", "0"], 2);
    let http = server
        .post_json(
            "/get-online-features",
            r#"{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,9999]}}"#,
        )
        .json();
    let ts = clock::pandas(clock::after_demo_data());
    let out = std::process::Command::new(&python)
        .arg(script())
        .args([&addrs[1], &ts])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Json = serde_json::from_slice(&out.stdout).unwrap();

    for call in ["read", "listen"] {
        let names = &got[call]["feature_names"];
        assert_eq!(names, &http["metadata"]["feature_names"], "{call}");
        for (i, name) in names.as_array().unwrap().iter().enumerate() {
            let name = name.as_str().unwrap();
            assert_same_column(name, &got[call]["columns"][name], &http["results"][i]);
        }
    }
    assert_eq!(got["push"], json!(true));
    let fresh = &got["fresh"]["columns"];
    assert_eq!(fresh["conv_rate"]["values"], json!([0.125]));
    assert_eq!(fresh["avg_daily_trips"]["values"], json!([4242]));
    assert_eq!(fresh["avg_daily_trips"]["statuses"], json!(["PRESENT"]));
    assert_eq!(
        got["unknown"],
        json!({"code": "NOT_FOUND", "details": "Feature view nope does not exist in project demo"})
    );
}
