//! Framework-free pieces of the HTTP front: Feast's request models and error responses.

pub mod auth;
pub mod error;
pub mod materialize_routes;
pub mod metrics;
pub mod models;
pub mod routes;
pub mod search_routes;
pub mod server;
pub mod state;
pub mod tls;
pub mod write_routes;
