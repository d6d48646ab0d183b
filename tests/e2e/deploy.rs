//! The deployment examples under `deploy/` against the server they deploy: a structural check
//! that needs no cluster, no systemd and no network (scripts/test also runs the schema check
//! `kubernetes-validate` and `systemd-analyze verify` where they are installed).
//!
//! What it pins down is what drifts silently: the grace periods must cover the server's drain
//! (read from its source, so changing DRAIN_TIMEOUT fails here), every edgefeat container must
//! have probes on /health, resource requests, a read-only root and no root user.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// DRAIN_TIMEOUT in seconds, as written in the server's source.
fn drain_seconds() -> u64 {
    let src = read("host/src/http/server.rs");
    let re = regex::Regex::new(r"const DRAIN_TIMEOUT: Duration = Duration::from_secs\((\d+)\);")
        .unwrap();
    let caps = re
        .captures(&src)
        .expect("DRAIN_TIMEOUT is declared in host/src/http/server.rs");
    caps[1].parse().unwrap()
}

fn manifests(rel: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(!docs.is_empty(), "{rel} has no documents");
    for d in &docs {
        assert!(
            d["apiVersion"].is_string() && d["kind"].is_string(),
            "{rel}: {d}"
        );
        assert!(
            d["metadata"]["name"].is_string(),
            "{rel}: a resource without a name"
        );
    }
    docs
}

fn is_edgefeat(c: &Value) -> bool {
    c["image"].as_str().is_some_and(|i| i.contains("edgefeat"))
}

fn probes_health(probe: &Value) -> bool {
    probe["httpGet"]["path"] == "/health"
        || probe["exec"]["command"][0]
            .as_str()
            .is_some_and(|c| c.ends_with("/edgefeat-healthcheck"))
}

/// The pod spec of a workload, checked for what every edgefeat pod needs.
fn check_pod(rel: &str, workload: &Value) -> Value {
    let pod = &workload["spec"]["template"]["spec"];
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("{rel}: no terminationGracePeriodSeconds"));
    let drain = drain_seconds();
    assert!(
        (drain + 1..=drain + 30).contains(&grace),
        "{rel}: terminationGracePeriodSeconds {grace} does not cover the {drain} s drain"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{rel}");
    let containers = pod["containers"].as_array().expect("containers");
    let server = containers
        .iter()
        .find(|c| {
            is_edgefeat(c)
                && c["command"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "serve"))
        })
        .unwrap_or_else(|| panic!("{rel}: no edgefeat container runs serve"));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert!(
            probes_health(&server[probe]),
            "{rel}: {probe} does not ask /health"
        );
    }
    for r in ["cpu", "memory"] {
        assert!(
            server["resources"]["requests"][r].is_string(),
            "{rel}: no {r} request"
        );
    }
    let all = containers
        .iter()
        .chain(pod["initContainers"].as_array().into_iter().flatten());
    for c in all.filter(|c| is_edgefeat(c)) {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{rel}: {}", c["name"]);
        assert_eq!(
            sc["allowPrivilegeEscalation"], false,
            "{rel}: {}",
            c["name"]
        );
    }
    server.clone()
}

#[test]
fn the_sidecar_runs_next_to_a_model_server_on_the_loopback() {
    let rel = "deploy/kubernetes/sidecar.yaml";
    let docs = manifests(rel);
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let server = check_pod(rel, deployment);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| !is_edgefeat(c)),
        "{rel}: no model server next to edgefeat"
    );
    // Listening on 127.0.0.1, the kubelet's httpGet could not reach it: the probes must exec.
    let args = server["command"].as_array().unwrap();
    if args.iter().any(|a| a == "127.0.0.1") {
        assert!(server["livenessProbe"]["exec"].is_object(), "{rel}");
    }
}

#[test]
fn the_daemonset_keeps_its_repo_on_the_node() {
    let rel = "deploy/kubernetes/daemonset.yaml";
    let docs = manifests(rel);
    let ds = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    let server = check_pod(rel, ds);
    let pod = &ds["spec"]["template"]["spec"];
    let host_volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["hostPath"]["path"].is_string())
        .expect("a hostPath volume");
    assert!(
        server["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == host_volume["name"]),
        "{rel}: edgefeat does not mount the hostPath volume"
    );
}

#[test]
fn the_systemd_unit_is_hardened_and_waits_for_the_drain() {
    let unit = read("deploy/systemd/edgefeat.service");
    let value = |key: &str| {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .next_back()
            .unwrap_or_else(|| panic!("edgefeat.service has no {key}="))
            .to_string()
    };
    assert_eq!(value("NoNewPrivileges"), "yes");
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(value("Restart"), "on-failure");
    assert!(
        value("ReadWritePaths").ends_with("/data"),
        "only the data directory is writable"
    );
    let stop: u64 = value("TimeoutStopSec").parse().unwrap();
    assert!(
        stop > drain_seconds(),
        "TimeoutStopSec {stop} does not cover the drain"
    );
    // Cranelift maps compiled plugins executable: MemoryDenyWriteExecute would break them.
    assert!(
        !unit
            .lines()
            .any(|l| l.starts_with("MemoryDenyWriteExecute=yes"))
    );
}

#[test]
fn the_image_is_from_scratch_and_not_root() {
    let file = read("deploy/Containerfile");
    let lines: Vec<&str> = file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"FROM scratch"),
        "one stage, nothing to pull"
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("FROM ")).count(), 1);
    assert!(lines.contains(&"USER 65534:65534"));
    assert!(lines.iter().any(|l| l.starts_with("HEALTHCHECK ")));
    assert!(
        file.contains("/etc/ssl/certs/ca-certificates.crt"),
        "CA bundle for OIDC discovery"
    );
}
