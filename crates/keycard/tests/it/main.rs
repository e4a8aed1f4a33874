//! Integration tests: the real server in-process on port 0 against a fresh SQLite file each, and the
//! real binary where a process must die.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod harness;

mod access_matrix;
mod auth;
mod authzen;
mod client_commands;
mod conditions;
mod console;
mod corpus;
mod crud;
mod decision_keys;
mod decision_log;
mod decisions;
mod directory_batch;
mod directory_files;
mod durability;
mod error_shapes;
mod errors;
mod iap;
mod interop_search;
mod openapi;
mod pagination;
mod policy_tests;
mod polytomic;
mod resources;
mod scale_out;
mod security;
mod store_copy;
mod watch;
mod webhooks;
