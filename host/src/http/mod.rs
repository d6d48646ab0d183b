//! The HTTP front: Feast's feature-server API over the serving core. Routing (`routes`), one
//! file of handlers per group of routes (`*_routes`), request models and Feast's error bodies,
//! admission limits (`state`), the connection loop (`server`) and TLS. Nothing here decides
//! what a request means: that is `crate::serving`.

pub mod auth;
pub mod client_cap;
pub mod error;
pub mod materialize_routes;
pub mod metrics;
pub mod models;
pub mod online_routes;
pub mod ops_routes;
pub mod respond;
pub mod routes;
pub mod search_routes;
pub mod server;
pub mod stall;
pub mod state;
pub mod tls;
pub mod write_routes;
