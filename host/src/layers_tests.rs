//! The layer order of ARCHITECTURE.md, checked: every `crate::` path in non-test code is read,
//! and an edge from a module to one above it, or a cycle between files, fails the test, unless
//! it is one of the known ones listed below. The lists only shrink: an entry that no longer
//! exists fails too, so fixing one means deleting its line. No tool beyond `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, lowest first; a module may use those at its rank or below.
const LAYERS: &[&[&str]] = &[
    &["types", "proto"],
    &["pycompat"],
    &["fsio", "watch", "heap"],
    &["repo"],
    &["registry"],
    &["vector", "online", "offline"],
    &["plugins"],
    &["auth"],
    &["serving"],
    // The fronts: gRPC is served by the HTTP front's accept loop (http::server).
    &["http", "grpc"],
    &["cli"],
];

/// Upward edges still in the code, each with what removes it (issue: one-way layers).
const KNOWN_UPWARD: &[(&str, &str, &str)] = &[
    (
        "types",
        "offline",
        "types::json gets its own error, apart from Arrow's ConvertError",
    ),
    (
        "repo",
        "registry",
        "split repo into config (a leaf) and apply-time repo code",
    ),
    (
        "repo",
        "offline",
        "split repo: validate/template are apply-time code",
    ),
    (
        "repo",
        "plugins",
        "PluginLimits as plain config data; the template's demo plugin",
    ),
    ("repo", "vector", "vector index config as plain config data"),
    (
        "registry",
        "vector",
        "the vector index spec belongs to the registry model",
    ),
    (
        "online",
        "plugins",
        "the WASM store adapter sits above plugins, not in online",
    ),
    (
        "offline",
        "serving",
        "value coercion and JSON codecs move to types/pycompat",
    ),
    (
        "auth",
        "serving",
        "ServingError, split_ref and python_str_list move below auth",
    ),
];

/// File-level import cycles still in the code: the files of one cycle, sorted.
const KNOWN_CYCLES: &[&[&str]] = &[
    // The part-file naming contract: writer and reader move into one offline/parts.rs.
    &["offline::push", "repo::source_schema"],
    // PluginLimits and the plugin config become plain data in the config layer.
    &["plugins", "repo::config"],
    // The generic sandbox knows the host-kv capability: kv moves out of plugins::engine.
    &["plugins::adapter", "plugins::engine", "plugins::transform"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src` that is not test code.
fn code_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            code_files(&path, out);
        } else if name.ends_with(".rs")
            && !name.ends_with("_tests.rs")
            && name != "tests.rs"
            && name != "wat_fixtures.rs"
        {
            out.push(path);
        }
    }
}

/// The module path of a file: `http/routes.rs` is `http::routes`, `http/mod.rs` is `http`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its in-file test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            // A test module: skip it to its closing brace at column 0 (or to `;`).
            let decl = lines.next().unwrap_or_default();
            if !decl.trim_end().ends_with(';') {
                for l in lines.by_ref() {
                    if l.starts_with('}') {
                        break;
                    }
                }
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The module paths a piece of code names with `crate::`, one level into `{...}` groups.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> usize {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let preceded = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded {
            continue;
        }
        let mut path = Vec::new();
        let mut s = rest;
        loop {
            let n = ident(s);
            if n == 0 {
                break;
            }
            path.push(s[..n].to_string());
            s = &s[n..];
            match s.strip_prefix("::") {
                Some(after) => s = after,
                None => break,
            }
        }
        if s.starts_with('{') {
            let group = &s[1..s.find('}').unwrap_or(s.len())];
            for item in group.split(',') {
                let item = item.trim();
                let n = ident(item);
                if n > 0 {
                    let mut p = path.clone();
                    p.extend(item[..n].split("::").map(str::to_string));
                    // `a::b::C`: take the module part only.
                    p.extend(
                        item[n..]
                            .strip_prefix("::")
                            .map(|r| r[..ident(r)].to_string()),
                    );
                    found.push(p);
                }
            }
        }
        if !path.is_empty() {
            found.push(path);
        }
    }
    found
}

struct Graph {
    /// Files by module path.
    files: BTreeMap<Vec<String>, PathBuf>,
    /// File-to-file edges, by module path.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let mut paths = Vec::new();
    code_files(&src(), &mut paths);
    let files: BTreeMap<Vec<String>, PathBuf> =
        paths.into_iter().map(|p| (module_of(&p), p)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for path in paths_in(&code_of(&text)) {
            // The longest prefix that is a file: `crate::http::routes::router` is http::routes.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| files.contains_key(p));
            if let Some(target) = target
                && target != *module
            {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    Graph { files, edges }
}

fn rank(top: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let g = graph();
    let tops: BTreeSet<&str> = g
        .files
        .keys()
        .filter_map(|m| m.first().map(String::as_str))
        .filter(|t| *t != "lib" && *t != "main" && *t != "layers_tests")
        .collect();
    let missing: Vec<_> = tops.iter().filter(|t| rank(t).is_none()).collect();
    assert!(
        missing.is_empty(),
        "give these modules a layer in LAYERS and ARCHITECTURE.md: {missing:?}"
    );
}

#[test]
fn layers_point_one_way() {
    let g = graph();
    let mut upward: BTreeMap<(String, String), String> = BTreeMap::new();
    for (from, targets) in &g.edges {
        for to in targets {
            let (Some(a), Some(b)) = (from.first(), to.first()) else {
                continue;
            };
            if let (Some(ra), Some(rb)) = (rank(a), rank(b))
                && rb > ra
            {
                upward
                    .entry((a.clone(), b.clone()))
                    .or_insert_with(|| format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN_UPWARD
        .iter()
        .map(|(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<&String> = upward
        .iter()
        .filter(|&(edge, _)| !known.contains(edge))
        .map(|(_, example)| example)
        .collect();
    assert!(
        new.is_empty(),
        "these imports point up the layers of ARCHITECTURE.md: {new:#?}"
    );
    let gone: Vec<_> = known.iter().filter(|&e| !upward.contains_key(e)).collect();
    assert!(
        gone.is_empty(),
        "fixed, so delete them from KNOWN_UPWARD: {gone:?}"
    );
}

/// The strongly connected components of more than one file (Tarjan's algorithm).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a [String], usize>,
        low: BTreeMap<&'a [String], usize>,
        stack: Vec<&'a [String]>,
        on_stack: BTreeSet<&'a [String]>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a [String]) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.g.edges.get(v) {
            for w in targets {
                let w = w.as_slice();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.files.keys() {
        if !s.index.contains_key(v.as_slice()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

#[test]
fn no_import_cycle_between_files() {
    let found = cycles(&graph());
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let new: Vec<_> = found.iter().filter(|c| !known.contains(c)).collect();
    assert!(new.is_empty(), "import cycles between files: {new:#?}");
    let gone: Vec<_> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(
        gone.is_empty(),
        "fixed, so delete them from KNOWN_CYCLES: {gone:?}"
    );
}

#[test]
fn the_parser_reads_use_groups_and_skips_comments_and_tests() {
    let code = code_of(
        "use crate::a::{b, c::D};\n// crate::zz::y\nfn f() { crate::e::f(); }\n#[cfg(test)]\nmod tests {\n    use crate::t;\n}\n",
    );
    let paths = paths_in(&code);
    let want: Vec<Vec<String>> = [&["a", "b"][..], &["a", "c", "D"], &["a"], &["e", "f"]]
        .iter()
        .map(|p| p.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(paths, want);
}
