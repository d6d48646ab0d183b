//! edgefeat: a WASM-pluggable edge feature server, wire-compatible with Feast's feature server.
//!
//! The library holds everything the `edgefeat` binary does, so that tests and benches can
//! drive the same code the CLI runs. See `ARCHITECTURE.md` for the architecture; each module's
//! doc says which part of it the module owns.
#![deny(missing_docs)]

pub mod auth;
pub mod cli;
pub mod fsio;
pub mod grpc;
pub mod heap;
pub mod http;
pub mod offline;
pub mod online;
pub mod plugins;
pub mod proto;
pub mod pycompat;
pub mod registry;
pub mod repo;
pub mod serving;
pub mod types;
pub mod vector;
pub mod watch;

#[cfg(test)]
mod layers_tests;
