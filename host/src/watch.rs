//! Watching files that the server re-reads when they change (the registry, TLS certificates):
//! change events from the OS, plus an optional poll for filesystems that send none.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// Keeps a watch alive; dropping it stops the events (a poll, if any, ends when `on_change`
/// says so).
pub struct FileWatcher {
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Calls `on_change` on its own thread whenever one of `files` may have changed, and every
/// `poll` as well. It watches the files' directories, not the files: deployments replace
/// files by renaming new ones into place, which a watch on the old file would miss. A burst of
/// events (temp file, rename) gives one call. `on_change` returns false to stop.
pub fn watch_files(
    files: &[PathBuf],
    poll: Option<Duration>,
    mut on_change: impl FnMut() -> bool + Send + 'static,
) -> FileWatcher {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let names: Vec<OsString> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_os_string()))
        .collect();
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.iter().any(|w| w == n)))
        {
            let _ = tx.send(());
        }
    })
    .ok()
    .and_then(|mut w| {
        for dir in &dirs {
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.clone()
            };
            w.watch(&dir, RecursiveMode::NonRecursive).ok()?;
        }
        Some(w)
    });
    if watcher.is_none() {
        tracing::warn!("cannot watch {files:?} for changes; relying on the poll");
    }
    let _ = std::thread::Builder::new()
        .name("file-watch".into())
        .spawn(move || {
            loop {
                let got = match poll {
                    Some(t) => rx.recv_timeout(t),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(()) => {
                        // Let the burst of a replace (write, rename) settle, then act once.
                        std::thread::sleep(Duration::from_millis(20));
                        while rx.try_recv().is_ok() {}
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => match poll {
                        Some(t) => std::thread::sleep(t),
                        None => return,
                    },
                }
                if !on_change() {
                    return;
                }
            }
        });
    FileWatcher { _watcher: watcher }
}
