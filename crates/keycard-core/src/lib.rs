//! Keycard's domain: typed ids and names built only through validation, the entities every API face
//! shares, the store traits, the change log, the in-memory snapshot and the decision engine.
//!
//! Nothing in this crate performs I/O: storage lives behind the traits in [`store`], and the server
//! crate decides when to load, persist and publish.

pub mod access;
pub mod attributes;
pub mod builtin;
pub mod change;
pub mod condition;
pub mod decision;
pub mod dense_map;
pub mod directory;
pub mod error;
pub mod hash_trie;
pub mod ids;
pub mod index;
pub mod model;
pub mod names;
pub mod page;
pub mod record;
pub mod registry;
pub mod secret;
pub mod snapshot;
pub mod store;
pub mod webhook;

pub use error::{Error, Result};
