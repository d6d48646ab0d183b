//! The views this server is materializing now: what makes a second async materialization of
//! the same view a 409 (Feast's `MATERIALIZING` state), unless forced.

use std::collections::BTreeSet;

/// The views currently being materialized by this server.
#[derive(Default)]
pub(crate) struct Running {
    views: std::sync::Mutex<BTreeSet<String>>,
}

impl Running {
    /// Marks `views` as materializing; with `force`, even those already marked. Refused with
    /// the views already running.
    pub(crate) fn claim(&self, views: &[String], force: bool) -> Result<(), Vec<String>> {
        let mut running = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let busy: Vec<String> = views
            .iter()
            .filter(|v| running.contains(*v))
            .cloned()
            .collect();
        if !busy.is_empty() && !force {
            return Err(busy);
        }
        running.extend(views.iter().cloned());
        Ok(())
    }

    pub(crate) fn release(&self, views: &[String]) {
        let mut running = self.views.lock().unwrap_or_else(|p| p.into_inner());
        for v in views {
            running.remove(v);
        }
    }
}
