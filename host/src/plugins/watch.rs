//! Hot reload: the plugins directory is watched (debounced OS events) and polled, and every
//! signal triggers a rescan, which loads only what changed.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::plugins::host::PluginHost;

/// How long events settle before a rescan: a temp-file-and-rename deploy sends 3-5 events
/// within a few milliseconds (docs/plugins.md#measured).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// Keeps the watch alive; dropping it stops the OS events. The poll stops with the host.
pub struct PluginWatcher {
    _debouncer: Option<Box<dyn std::any::Any + Send>>,
}

/// Rescans `host`'s directory on every change event and every `poll` (for filesystems that
/// send no events: some network and overlay mounts, Kubernetes volumes swapping a symlink).
/// The directory itself is watched, not the files, because deploys rename new files in.
pub fn watch_plugins(host: &Arc<PluginHost>, poll: Option<Duration>) -> PluginWatcher {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let dir = host.dir().to_path_buf();
    let debouncer = new_debouncer(DEBOUNCE, None, move |events: DebounceEventResult| {
        if events.is_ok_and(|e| !e.is_empty()) {
            let _ = tx.send(());
        }
    })
    .ok()
    .and_then(|mut d| {
        d.watch(&dir, RecursiveMode::NonRecursive).ok()?;
        Some(d)
    });
    if debouncer.is_none() {
        tracing::warn!(
            "cannot watch {} for changes; plugins reload on the poll only",
            dir.display()
        );
    }
    let weak: Weak<PluginHost> = Arc::downgrade(host);
    let _ = std::thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            loop {
                let got = match poll {
                    Some(t) => rx.recv_timeout(t),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                if got == Err(RecvTimeoutError::Disconnected) {
                    match poll {
                        Some(t) => std::thread::sleep(t),
                        None => return,
                    }
                }
                while rx.try_recv().is_ok() {}
                let Some(host) = weak.upgrade() else { return };
                host.rescan();
            }
        });
    PluginWatcher {
        _debouncer: debouncer.map(|d| Box::new(d) as Box<dyn std::any::Any + Send>),
    }
}
