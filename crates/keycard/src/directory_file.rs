//! The declarative directory file (see [`keycard_core::directory`]): read from YAML or JSON.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub use keycard_core::directory::*;

/// Reads a YAML or JSON file of type `T`, naming the file and the place of an error.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
}
