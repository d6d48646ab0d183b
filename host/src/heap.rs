//! Giving freed heap memory back to the system, which glibc's allocator does not do by itself
//! after a burst of large requests.
//!
//! A request body may be 16 MiB, and a response or a parsed body several times that. Once
//! they are freed, glibc keeps the space in its arenas for reuse (and raises its mmap
//! threshold after each large free, so the next large blocks come from the arenas too): in a
//! million-request fuzz run the server's anonymous memory grew to 500 MB, of which a single
//! `malloc_trim(0)` gave back 265 MB. So a background thread trims every
//! [`TRIM_INTERVAL`]. A trim walks each arena's free list under that arena's lock and
//! `madvise`s free pages away; every 10 s, that is nothing beside the requests' own work.
//!
//! musl's allocator (the static release binaries) returns large frees at once; there, and on
//! other platforms, this does nothing.

use std::time::Duration;

/// How often the heap is trimmed.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the trimming thread (once per process; later calls do nothing).
pub fn start_trimming() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        if !cfg!(all(target_os = "linux", target_env = "gnu")) {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TRIM_INTERVAL);
                    trim();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the heap trimming thread: {e}");
        }
    });
}

/// Returns the heap's free pages to the system now.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reads and updates the allocator's own state, under its locks;
    // it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
