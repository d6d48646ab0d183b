//! Connections per client address: one client (one IP) may hold at most a share of the
//! server's connection slots, so slow or idle connections from one place cannot lock every
//! other client out. Clients behind one proxy share an address; the cap is a flag for that.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Open connections by client address.
#[derive(Clone, Default)]
pub struct ClientCap {
    per_client: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A connection counted against its client; dropping it gives the place back.
pub struct ClientSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ClientCap {
    /// At most `per_client` connections from one address (0: no cap).
    pub fn new(per_client: usize) -> ClientCap {
        ClientCap {
            per_client,
            open: Arc::default(),
        }
    }

    /// Counts a connection from `ip`, or `None` when that address already holds its share.
    pub fn admit(&self, ip: IpAddr) -> Option<ClientSlot> {
        // An IPv4 client reached over an IPv6 socket is the same client.
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if self.per_client > 0 && *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            ip,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            // Forget addresses with nothing open, so the map is bounded by open connections.
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_gets_its_share_and_no_more_and_others_are_unaffected() {
        let cap = ClientCap::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = cap.admit(a).unwrap();
        let _a2 = cap.admit(a).unwrap();
        assert!(cap.admit(a).is_none());
        // The same client over an IPv6 socket.
        assert!(cap.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
        assert!(cap.admit(b).is_some());
        drop(a1);
        assert!(cap.admit(a).is_some());
    }

    #[test]
    fn closed_connections_leave_nothing_behind_and_zero_means_no_cap() {
        let cap = ClientCap::new(1);
        for i in 0..100u8 {
            drop(cap.admit(IpAddr::from([10, 0, 0, i])).unwrap());
        }
        assert!(cap.open.lock().unwrap().is_empty());
        let none = ClientCap::new(0);
        let held: Vec<_> = (0..1000)
            .map(|_| none.admit(IpAddr::from([10, 0, 0, 1])).unwrap())
            .collect();
        assert_eq!(held.len(), 1000);
    }
}
