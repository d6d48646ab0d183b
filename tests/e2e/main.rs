//! End-to-end tests: they run the real `edgefeat` binary, built from this checkout.
// Test code, helpers included: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod cli_apply;
mod cli_config;
mod cli_init;
mod deploy;
mod empty_data_files;
mod feast_redis;
mod feast_repo;
mod fuzz;
mod grpc;
mod grpc_client;
mod grpc_feast;
mod grpc_python;
mod grpc_secure;
mod http;
mod import;
mod materialize;
mod materialize_http;
mod offline_parts;
mod plugins;
mod push;
mod push_sigkill;
mod python_transforms;
mod redis_server;
mod search;
mod serve;
mod slow_clients;
mod store_adapter;
mod support;
mod tls;
mod transforms;
