//! Builds the demo plugin (`plugins/transformed-conv-rate`) for wasm32-wasip2 so that the
//! binary can embed it and `edgefeat init` can give every new repo a working
//! `transformed_conv_rate` transform, with no second build step for the user; and the example
//! store adapter (`plugins/redis-layout-adapter`), which the integration tests run.
//!
//! The guest is built by a nested `cargo` into its own target directory (next to this build's
//! profiles, so debug and release share it), which keeps the host's and the guest's target
//! locks apart. Without the wasm32-wasip2 target the build still succeeds: the binary embeds
//! nothing, `init` says how to get the plugin, and the demo's transform answers that its plugin
//! is missing. `scripts/demo` and `scripts/test` install the target first.
// A build script that cannot read its environment should stop the build, loudly.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guests: crate directory under `plugins/`, and the artifact name.
const GUESTS: [(&str, &str); 2] = [
    ("transformed-conv-rate", "transformed_conv_rate"),
    ("redis-layout-adapter", "redis_layout_adapter"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    compile_protos(&manifest_dir, &out_dir);
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );
    println!("cargo:rerun-if-env-changed=EDGEFEAT_SKIP_DEMO_PLUGIN");
    for (dir, artifact) in GUESTS {
        let guest = manifest_dir.join("../plugins").join(dir);
        for p in ["src", "Cargo.toml", "Cargo.lock"] {
            println!("cargo:rerun-if-changed={}", guest.join(p).display());
        }
        let embedded = out_dir.join(format!("{artifact}.wasm"));
        let built = if std::env::var_os("EDGEFEAT_SKIP_DEMO_PLUGIN").is_some() {
            Err("EDGEFEAT_SKIP_DEMO_PLUGIN is set".to_string())
        } else {
            build_guest(&guest, artifact, &out_dir)
        };
        let bytes = match built {
            Ok(wasm) => std::fs::read(&wasm).unwrap_or_default(),
            Err(why) => {
                println!(
                    "cargo:warning=the plugin {dir} is not embedded ({why}); `edgefeat init` will scaffold repos without the demo transform. Run `rustup target add wasm32-wasip2` and rebuild."
                );
                Vec::new()
            }
        };
        std::fs::write(&embedded, bytes).expect("OUT_DIR is writable");
    }
}

/// Generates the prost types of Feast's messages, and tonic's service code for the gRPC front,
/// from our `.proto` subset in `proto/`. protox compiles the files in-process (it bundles the
/// well-known `google/protobuf` types), so the build needs no `protoc`. The compiled
/// descriptors are kept too (`feast_descriptors.bin`), for gRPC server reflection.
///
/// `feast.types.Value` is not generated: it maps to our own `proto::WireValue`, which reads
/// and writes a value with the hand-written codec the online stores use (`types::value_proto`),
/// so the Value format has one implementation. The server's `FeatureVector` (a response
/// column) is `proto::EncodedFeatureVector`, written straight from the core's columns; the
/// serving messages are generated a second time, whole and with tonic's clients, for the
/// clients in the tests and the load generator (`proto::client`). The request messages' maps
/// decode into `BTreeMap`s: a protobuf map has no order, and a sorted one makes a request's
/// entity columns come out the same every time.
fn compile_protos(manifest_dir: &Path, out_dir: &Path) {
    let root = manifest_dir.join("proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let files = [
        "feast/types/Value.proto",
        "feast/core/Registry.proto",
        "feast/serving/ServingService.proto",
        "feast/serving/GrpcServer.proto",
    ];
    let descriptors = protox::compile(files, [&root]).expect("the .proto files in proto/ compile");
    std::fs::write(
        out_dir.join("feast_descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )
    .expect("OUT_DIR is writable");
    // The server's messages: a response column (`FeatureVector`) is our own
    // `proto::EncodedFeatureVector`, written straight from the core's columns.
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        // Requests that do not decode are INVALID_ARGUMENT, not tonic's INTERNAL.
        .codec_path("crate::grpc::codec::FeastCodec")
        .extern_path(".feast.types.Value", "crate::proto::WireValue")
        .extern_path(
            ".feast.serving.GetOnlineFeaturesResponse.FeatureVector",
            "crate::proto::EncodedFeatureVector",
        )
        .btree_map(".feast.serving")
        .btree_map(".PushRequest")
        .btree_map(".WriteToOnlineStoreRequest")
        .compile_fds(descriptors.clone())
        .expect("tonic-prost-build generates the Feast messages and services");
    // The clients' messages (the e2e tests', the load generator's): the serving messages
    // again, with prost's own `FeatureVector`, and tonic's client code. The other packages
    // are the server's (only `feast.serving` and `GrpcServer.proto` are included from here).
    let client_dir = out_dir.join("client");
    std::fs::create_dir_all(&client_dir).expect("OUT_DIR is writable");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .build_transport(false)
        .out_dir(&client_dir)
        .extern_path(".feast.types.Value", "crate::proto::WireValue")
        .extern_path(".feast.types", "crate::proto::feast::types")
        .extern_path(".feast.core", "crate::proto::feast::core")
        .btree_map(".feast.serving")
        .btree_map(".PushRequest")
        .btree_map(".WriteToOnlineStoreRequest")
        .compile_fds(descriptors)
        .expect("tonic-prost-build generates the Feast messages and clients");
}

fn build_guest(guest: &Path, artifact: &str, out_dir: &Path) -> Result<PathBuf, String> {
    // <target>/<profile>/build/edgefeat-<hash>/out → <target>/wasm-guests
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map_or_else(|| out_dir.join("wasm-guests"), |t| t.join("wasm-guests"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--target",
        "wasm32-wasip2",
    ])
    .arg("--manifest-path")
    .arg(guest.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&target_dir);
    // What the outer build sets for itself must not leak into the guest's build: clippy's
    // wrapper, host rustflags, a target directory or target triple.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .filter(|l| l.contains("error"))
            .take(2)
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(format!("building it failed: {last}"));
    }
    let wasm = target_dir.join(format!("wasm32-wasip2/release/{artifact}.wasm"));
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(format!("{} was not produced", wasm.display()))
    }
}
