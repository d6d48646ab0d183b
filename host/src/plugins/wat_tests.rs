//! The plugin host against hand-written components (`wat_fixtures`): limits, traps, contract
//! violations, loading failures and reloads; and the real demo plugin's arithmetic.

use std::path::Path;
use std::time::{Duration, Instant};

use super::wat_fixtures::{Behaviour, VALUE, wat_text};
use super::{
    CallError, HostColumn, PluginEngine, PluginField, PluginHost, PluginLimits, PluginType,
    TransformPlugin,
};
use crate::types::Value;

fn engine() -> PluginEngine {
    PluginEngine::new(PluginLimits::default()).expect("the plugin engine starts")
}

fn wasm(behaviour: Behaviour) -> Vec<u8> {
    wat::parse_str(wat_text(behaviour)).unwrap_or_else(|e| panic!("{behaviour:?}: {e}"))
}

fn plugin(engine: &PluginEngine, bytes: &[u8]) -> TransformPlugin {
    let component = engine.compile(bytes).expect("the component compiles");
    TransformPlugin::new(engine, &component).expect("the component is a valid transformer")
}

fn fixture(engine: &PluginEngine, behaviour: Behaviour) -> TransformPlugin {
    plugin(engine, &wasm(behaviour))
}

/// The demo plugin's three input columns.
fn inputs(conv_rate: &[Option<f64>], val1: &[i64], val2: &[i64]) -> Vec<HostColumn> {
    let ints = |xs: &[i64]| xs.iter().map(|x| Value::Int64(*x)).collect();
    vec![
        HostColumn {
            name: "conv_rate".into(),
            ty: PluginType::Float64,
            values: conv_rate
                .iter()
                .map(|x| x.map_or(Value::Null, Value::Double))
                .collect(),
        },
        HostColumn {
            name: "val_to_add".into(),
            ty: PluginType::Int64,
            values: ints(val1),
        },
        HostColumn {
            name: "val_to_add_2".into(),
            ty: PluginType::Int64,
            values: ints(val2),
        },
    ]
}

/// Inputs for `rows` rows.
fn rows(n: usize) -> Vec<HostColumn> {
    let ids: Vec<i64> = (0..n as i64).collect();
    inputs(&vec![Some(0.5); n], &ids, &ids)
}

fn call(p: &TransformPlugin, n: usize) -> Result<Vec<HostColumn>, CallError> {
    p.transform(n, &rows(n))
}

#[track_caller]
fn assert_fixture_output(out: &[HostColumn], n: usize) {
    let names: Vec<&str> = out.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["conv_rate_plus_val1", "conv_rate_plus_val2"]);
    for c in out {
        assert_eq!(c.ty, PluginType::Float64);
        assert_eq!(c.values, vec![Value::Double(VALUE); n], "column {}", c.name);
    }
}

fn demo_fields() -> (Vec<PluginField>, Vec<PluginField>) {
    let f = |name: &str, ty| PluginField {
        name: name.into(),
        ty,
    };
    (
        vec![
            f("conv_rate", PluginType::Float64),
            f("val_to_add", PluginType::Int64),
            f("val_to_add_2", PluginType::Int64),
        ],
        vec![
            f("conv_rate_plus_val1", PluginType::Float64),
            f("conv_rate_plus_val2", PluginType::Float64),
        ],
    )
}

#[track_caller]
fn demo_plugin_bytes() -> &'static [u8] {
    assert!(
        !super::DEMO_PLUGIN.is_empty(),
        "the demo plugin was not embedded: run `rustup target add wasm32-wasip2` and rebuild"
    );
    super::DEMO_PLUGIN
}

#[test]
fn every_fixture_describes_itself_as_the_demo_plugin_does() {
    let engine = engine();
    let (inputs, outputs) = demo_fields();
    let demo = plugin(&engine, demo_plugin_bytes());
    assert_eq!(demo.info().inputs, inputs);
    assert_eq!(demo.info().outputs, outputs);
    for b in Behaviour::ALL {
        let p = fixture(&engine, b);
        let info = p.info();
        assert_eq!(info.name, demo.info().name, "{b:?}");
        assert_eq!(info.version, b.version(), "{b:?}");
        assert_eq!(info.inputs, inputs, "{b:?}");
        assert_eq!(info.outputs, outputs, "{b:?}");
    }
}

#[test]
fn the_ok_fixture_answers_42_5_on_every_row_and_call() {
    let engine = engine();
    let p = fixture(&engine, Behaviour::Ok);
    for n in [0, 1, 3] {
        assert_fixture_output(&call(&p, n).expect("the call succeeds"), n);
    }
    // The warm instance is reused; its allocator is reset after each call, so many calls
    // with large batches stay within the memory limit.
    for _ in 0..50 {
        assert_fixture_output(&call(&p, 10_000).expect("the call succeeds"), 10_000);
    }
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let engine = engine();
    let p = fixture(&engine, Behaviour::InfiniteLoop);
    for _ in 0..2 {
        let started = Instant::now();
        let err = call(&p, 1).expect_err("a loop cannot succeed");
        assert_eq!(err, CallError::Deadline(Duration::from_millis(50)));
        assert_eq!(err.to_string(), "exceeded its time limit of 50 ms");
        // A generous bound: the point is that the loop was stopped at all.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the loop ran {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn instantiation_has_its_own_longer_but_bounded_budget() {
    // The call deadline is 50 ms; instantiating (CPython's large image on a loaded machine)
    // may take longer, up to `INSTANTIATE_BUDGET`, and a start function that never returns
    // is still stopped there.
    let engine = engine();
    let component = engine
        .compile(&wasm(Behaviour::LoopAtStart))
        .expect("the component compiles");
    let started = Instant::now();
    let err = match TransformPlugin::new(&engine, &component) {
        Ok(_) => panic!("a start function that loops cannot load"),
        Err(e) => format!("{e:#}"),
    };
    let took = started.elapsed();
    assert!(err.contains("cannot instantiate"), "{err}");
    assert!(
        took >= super::engine::INSTANTIATE_BUDGET - Duration::from_millis(50),
        "stopped after {took:?}, at the call deadline rather than the instantiation budget"
    );
    assert!(took < Duration::from_secs(20), "the loop ran {took:?}");
}

#[test]
fn growing_past_the_memory_limit_is_a_memory_error() {
    let engine = engine();
    let p = fixture(&engine, Behaviour::GrowMemory);
    match call(&p, 1) {
        Err(CallError::Memory(m)) => {
            assert!(m.contains("memory limit of 64 MiB"), "{m}");
            // 1 initial page + 2048 pages = 128 MiB + 64 KiB.
            assert!(m.contains("asked for 129 MiB"), "{m}");
        }
        other => panic!("expected a memory error, got {other:?}"),
    }
}

#[test]
fn a_trapped_instance_is_replaced_for_the_next_call() {
    let engine = engine();
    let p = fixture(&engine, Behaviour::TrapOnTwoRows);
    assert_fixture_output(&call(&p, 1).expect("1 row succeeds"), 1);
    for _ in 0..2 {
        match call(&p, 2) {
            Err(CallError::Trap(m)) => assert!(m.contains("unreachable"), "{m}"),
            other => panic!("expected a trap, got {other:?}"),
        }
        // The trapped instance cannot be entered again: this succeeds only on a new one.
        assert_fixture_output(&call(&p, 1).expect("1 row succeeds after a trap"), 1);
        assert_fixture_output(&call(&p, 3).expect("3 rows succeed after a trap"), 3);
    }
}

#[test]
fn a_wrong_row_count_breaks_the_contract() {
    let engine = engine();
    let p = fixture(&engine, Behaviour::WrongRowCount);
    assert_eq!(
        call(&p, 2),
        Err(CallError::Contract("returned 3 rows for 2".into()))
    );
    assert_eq!(
        call(&p, 0),
        Err(CallError::Contract("returned 1 rows for 0".into()))
    );
}

#[test]
fn the_demo_plugin_adds_and_keeps_nulls() {
    let engine = engine();
    let p = plugin(&engine, demo_plugin_bytes());
    let out = p
        .transform(
            3,
            &inputs(&[Some(0.5), None, Some(1.25)], &[1, 2, 3], &[10, 20, 30]),
        )
        .expect("the call succeeds");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].name, "conv_rate_plus_val1");
    assert_eq!(
        out[0].values,
        [Value::Double(1.5), Value::Null, Value::Double(4.25)]
    );
    assert_eq!(out[1].name, "conv_rate_plus_val2");
    assert_eq!(
        out[1].values,
        [Value::Double(10.5), Value::Null, Value::Double(31.25)]
    );
}

/// Writes `bytes` as `dir/name` the way a deploy should: a hidden temp file, then a rename.
fn deploy(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

#[test]
fn files_that_are_not_transformer_components_fail_to_load_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let core_module = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let no_exports = wat::parse_str("(component)").unwrap();
    std::fs::write(dir.path().join("garbage.wasm"), b"not wasm").unwrap();
    std::fs::write(dir.path().join("core.wasm"), &core_module).unwrap();
    std::fs::write(dir.path().join("empty.wasm"), &no_exports).unwrap();
    let host = PluginHost::new(engine(), dir.path().to_path_buf(), None);
    assert_eq!(host.rescan(), 0);
    assert!(host.loaded().is_empty());
    let statuses = host.statuses();
    let error = |name: &str| {
        let s = &statuses[name];
        assert!(s.last_error_at.is_some(), "{name}");
        s.last_error
            .clone()
            .unwrap_or_else(|| panic!("{name}: no error"))
    };
    let garbage = error("garbage");
    assert!(garbage.contains("magic header"), "{garbage}");
    let core = error("core");
    assert!(
        core.contains("component") && core.contains("module"),
        "a core module must be refused for not being a component: {core}"
    );
    let empty = error("empty");
    assert!(
        empty.contains("not an edgefeat:plugin/transformer component"),
        "{empty}"
    );
    assert_eq!(
        host.missing_reason("garbage"),
        format!("plugin `garbage` failed to load: {garbage}")
    );
}

#[test]
fn a_failed_reload_keeps_the_old_version_and_a_removed_file_unloads() {
    let dir = tempfile::tempdir().unwrap();
    let name = "transformed_conv_rate";
    let file = format!("{name}.wasm");
    let host = PluginHost::new(engine(), dir.path().to_path_buf(), None);

    deploy(dir.path(), &file, &wasm(Behaviour::Ok));
    assert_eq!(host.rescan(), 1);
    let first = host.get(name).expect("loaded");
    assert_eq!(first.info().version, "wat-ok");
    assert_eq!(first.file, dir.path().join(&file));
    assert_fixture_output(&first.transform(2, &rows(2)).unwrap(), 2);
    assert_eq!(host.statuses()[name].last_error, None);
    // Nothing changed: nothing is loaded again.
    assert_eq!(host.rescan(), 0);

    deploy(dir.path(), &file, b"not wasm");
    assert_eq!(host.rescan(), 0);
    let still = host.get(name).expect("the old version keeps serving");
    assert_eq!(still.hash, first.hash);
    assert_eq!(still.info().version, "wat-ok");
    assert_fixture_output(&still.transform(1, &rows(1)).unwrap(), 1);
    let status = &host.statuses()[name];
    let error = status
        .last_error
        .as_deref()
        .expect("the failure is reported");
    assert!(error.contains("magic header"), "{error}");
    assert!(status.last_error_at.is_some());

    // A good version replaces it and clears the error.
    deploy(dir.path(), &file, &wasm(Behaviour::TrapOnTwoRows));
    assert_eq!(host.rescan(), 1);
    let next = host.get(name).expect("loaded");
    assert_eq!(next.info().version, "wat-trap-on-two-rows");
    assert_ne!(next.hash, first.hash);
    assert_eq!(host.statuses()[name].last_error, None);

    std::fs::remove_file(dir.path().join(&file)).unwrap();
    assert_eq!(host.rescan(), 0);
    assert!(host.get(name).is_none());
    assert!(host.loaded().is_empty());
    // The version taken before the removal still works for a call in flight.
    assert_fixture_output(&next.transform(1, &rows(1)).unwrap(), 1);
}

/// Loads `t.wasm` of `dir` through a new host (as a restart would) with the cache `cache`.
fn load_cached(dir: &Path, cache: &Path) -> std::sync::Arc<super::LoadedPlugin> {
    let host = PluginHost::new(engine(), dir.to_path_buf(), Some(cache.to_path_buf()));
    assert_eq!(host.rescan(), 1, "{:?}", host.statuses());
    host.get("t").expect("loaded")
}

#[test]
fn compiled_fixtures_are_cached_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    deploy(dir.path(), "t.wasm", &wasm(Behaviour::Ok));
    let load = || load_cached(dir.path(), cache.path());
    let first = load();
    assert!(!first.from_cache);
    let second = load();
    assert!(second.from_cache);
    assert_eq!(second.hash, first.hash);
    assert_fixture_output(&second.transform(2, &rows(2)).unwrap(), 2);
}

#[test]
fn a_damaged_or_unsealed_cache_entry_is_compiled_again_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    deploy(dir.path(), "t.wasm", &wasm(Behaviour::Ok));
    let load = || load_cached(dir.path(), cache.path());
    assert!(!load().from_cache);
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let file = &entries[0];
    let sealed = std::fs::read(file).unwrap();
    let damaged: [fn(&mut Vec<u8>); 3] = [
        // Bytes flipped in the middle.
        |b| {
            let mid = b.len() / 2;
            b[mid..mid + 64].iter_mut().for_each(|x| *x ^= 0xff);
        },
        |b| b.truncate(b.len() / 3),
        // What an edgefeat without the checksum header cached: wasmtime's bytes alone.
        |b| drop(b.drain(..48)),
    ];
    for damage in damaged {
        let mut bytes = sealed.clone();
        damage(&mut bytes);
        std::fs::write(file, &bytes).unwrap();
        let p = load();
        assert!(!p.from_cache, "a damaged entry must not be loaded");
        assert_fixture_output(&p.transform(2, &rows(2)).unwrap(), 2);
        // Compiling again need not give the same bytes: the entry is checked, not compared.
        let now = std::fs::read(file).unwrap();
        assert!(now != bytes, "the damaged entry is still there");
        let key = file.file_stem().unwrap().to_str().unwrap();
        assert!(
            super::cache::open(key, now).is_ok(),
            "the new entry is sealed"
        );
        assert!(load().from_cache);
    }
}

#[test]
fn reverting_to_the_served_version_clears_its_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = PluginHost::new(engine(), dir.path().to_path_buf(), None);
    let ok = wasm(Behaviour::Ok);
    deploy(dir.path(), "t.wasm", &ok);
    assert_eq!(host.rescan(), 1);
    let served = host.get("t").expect("loaded").hash.clone();
    deploy(dir.path(), "t.wasm", b"not wasm");
    host.rescan();
    assert!(host.statuses()["t"].last_error.is_some());
    // The directory holds the served version again: nothing is loaded, and the error of the
    // file that is gone is no longer reported.
    deploy(dir.path(), "t.wasm", &ok);
    assert_eq!(host.rescan(), 0);
    assert_eq!(host.get("t").expect("loaded").hash, served);
    let status = &host.statuses()["t"];
    assert_eq!(status.last_error, None);
    assert_eq!(status.last_error_at, None);
}

#[test]
fn a_removed_file_is_forgotten_with_its_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = PluginHost::new(engine(), dir.path().to_path_buf(), None);
    deploy(dir.path(), "g.wasm", b"not wasm");
    deploy(dir.path(), "t.wasm", &wasm(Behaviour::Ok));
    host.rescan();
    assert!(host.missing_reason("g").contains("failed to load"));
    std::fs::remove_file(dir.path().join("g.wasm")).unwrap();
    std::fs::remove_file(dir.path().join("t.wasm")).unwrap();
    host.rescan();
    assert!(host.statuses().is_empty(), "{:?}", host.statuses());
    assert_eq!(
        host.missing_reason("g"),
        format!(
            "plugin `g` is not loaded: there is no {}",
            dir.path().join("g.wasm").display()
        )
    );
}
