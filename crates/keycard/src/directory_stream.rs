//! Reading a directory file entry by entry, so that applying one holds a batch in memory, never
//! the file: a YAML event parser reads it as it goes (JSON is YAML too), and each entry of the
//! `roles`, `groups`, `accounts`, `policies` and `resources` lists is handed over as it ends.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use keycard_core::names::{ActionName, OrganizationName};

use crate::directory_file::{
    AccountEntry, Catalogue, DirectoryFile, EntryKind, GroupEntry, PolicyEntry, ResourceEntry,
    RoleEntry,
};

/// One piece of a directory file, in the file's order.
#[derive(Debug)]
pub enum Piece {
    Organization(OrganizationName),
    Actions(Vec<ActionName>),
    Catalogue(Catalogue),
    Role(RoleEntry),
    Group(GroupEntry),
    Account(AccountEntry),
    Policy(PolicyEntry),
    Resource(ResourceEntry),
}

impl Piece {
    pub fn kind(&self) -> Option<EntryKind> {
        Some(match self {
            Piece::Organization(_) | Piece::Actions(_) | Piece::Catalogue(_) => return None,
            Piece::Role(_) => EntryKind::Role,
            Piece::Group(_) => EntryKind::Group,
            Piece::Account(_) => EntryKind::Account,
            Piece::Policy(_) => EntryKind::Policy,
            Piece::Resource(_) => EntryKind::Resource,
        })
    }
}

/// The pieces of a directory in memory, in the order an export writes them.
pub fn pieces_of(file: &DirectoryFile) -> impl Iterator<Item = Piece> + '_ {
    let header = [
        file.organization.clone().map(Piece::Organization),
        file.actions.clone().map(Piece::Actions),
        (!file.catalogue.is_empty()).then(|| Piece::Catalogue(file.catalogue.clone())),
    ];
    header
        .into_iter()
        .flatten()
        .chain(file.roles.iter().cloned().map(Piece::Role))
        .chain(file.groups.iter().cloned().map(Piece::Group))
        .chain(file.accounts.iter().cloned().map(Piece::Account))
        .chain(file.policies.iter().cloned().map(Piece::Policy))
        .chain(file.resources.iter().cloned().map(Piece::Resource))
}

const HEADERS: [&str; 3] = ["organization", "actions", "catalogue"];

fn section(key: &str) -> Option<EntryKind> {
    Some(match key {
        "roles" => EntryKind::Role,
        "groups" => EntryKind::Group,
        "accounts" => EntryKind::Account,
        "policies" => EntryKind::Policy,
        "resources" => EntryKind::Resource,
        _ => return None,
    })
}

/// A directory file read piece by piece.
pub struct DirectoryStream {
    path: PathBuf,
    parser: Parser<Chars>,
    failed: Arc<Mutex<Option<std::io::Error>>>,
    /// The section whose list is being read.
    within: Option<EntryKind>,
    started: bool,
    done: bool,
    /// Only the pieces of this kind are built; the others are skipped over.
    only: Option<Option<EntryKind>>,
}

impl DirectoryStream {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("reading `{}`", path.display()))?;
        let failed = Arc::new(Mutex::new(None));
        let chars = Chars {
            reader: BufReader::with_capacity(64 * 1024, file),
            pending: Vec::new(),
            decoded: Vec::new(),
            at: 0,
            failed: failed.clone(),
        };
        Ok(Self {
            path: path.to_owned(),
            parser: Parser::new(chars),
            failed,
            within: None,
            started: false,
            done: false,
            only: None,
        })
    }

    /// Reads only the entries of `kind` (`None`: only the header); the rest is skipped over.
    pub fn only(mut self, kind: Option<EntryKind>) -> Self {
        self.only = Some(kind);
        self
    }

    fn wanted(&self, kind: Option<EntryKind>) -> bool {
        self.only.is_none_or(|only| only == kind)
    }

    fn event(&mut self) -> anyhow::Result<(Event, Marker)> {
        let next = self.parser.next_token();
        if let Some(err) = self.failed.lock().ok().and_then(|mut failed| failed.take()) {
            return Err(err).with_context(|| format!("reading `{}`", self.path.display()));
        }
        next.map_err(|err| anyhow!("`{}` is not valid YAML: {err}", self.path.display()))
    }

    fn at(&self, marker: &Marker) -> String {
        format!(
            "`{}`, line {} column {}",
            self.path.display(),
            marker.line(),
            marker.col() + 1
        )
    }

    /// The next piece, or `None` at the end of the file.
    pub fn next_piece(&mut self) -> anyhow::Result<Option<Piece>> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            loop {
                let (event, marker) = self.event()?;
                match event {
                    Event::StreamStart | Event::DocumentStart => {}
                    Event::MappingStart(..) => break,
                    Event::StreamEnd => {
                        self.done = true;
                        return Ok(None);
                    }
                    _ => bail!("{}: a directory file is a mapping", self.at(&marker)),
                }
            }
        }
        loop {
            if let Some(kind) = self.within {
                let (event, marker) = self.event()?;
                if event == Event::SequenceEnd {
                    self.within = None;
                    continue;
                }
                if !self.wanted(Some(kind)) {
                    self.skip(event, &marker)?;
                    continue;
                }
                let value = self.value(event, &marker)?;
                let at = self.at(&marker);
                let invalid = |err: serde_json::Error| anyhow!("{at}: {err}");
                return Ok(Some(match kind {
                    EntryKind::Role => Piece::Role(serde_json::from_value(value).map_err(invalid)?),
                    EntryKind::Group => {
                        Piece::Group(serde_json::from_value(value).map_err(invalid)?)
                    }
                    EntryKind::Account => {
                        Piece::Account(serde_json::from_value(value).map_err(invalid)?)
                    }
                    EntryKind::Policy => {
                        Piece::Policy(serde_json::from_value(value).map_err(invalid)?)
                    }
                    EntryKind::Resource => {
                        Piece::Resource(serde_json::from_value(value).map_err(invalid)?)
                    }
                    EntryKind::Organization | EntryKind::Method | EntryKind::View => {
                        bail!("{at}: not a list of entries")
                    }
                }));
            }
            let (event, marker) = self.event()?;
            let key = match event {
                Event::MappingEnd | Event::DocumentEnd | Event::StreamEnd => {
                    self.done = true;
                    return Ok(None);
                }
                Event::Scalar(key, ..) => key,
                _ => bail!("{}: expected a key", self.at(&marker)),
            };
            let (event, marker) = self.event()?;
            if let Some(kind) = section(&key) {
                match event {
                    Event::SequenceStart(..) => self.within = Some(kind),
                    Event::Scalar(ref text, TScalarStyle::Plain, ..)
                        if matches!(text.as_str(), "" | "~" | "null") => {}
                    _ => bail!("{}: `{key}` is a list", self.at(&marker)),
                }
                continue;
            }
            if !HEADERS.contains(&key.as_str()) {
                bail!(
                    "{}: unknown field `{key}`, expected one of `organization`, `actions`, `catalogue`, `roles`, `groups`, `accounts`, `policies`, `resources`",
                    self.at(&marker)
                );
            }
            if !self.wanted(None) {
                self.skip(event, &marker)?;
                continue;
            }
            let value = self.value(event, &marker)?;
            let at = self.at(&marker);
            let invalid = |err: serde_json::Error| anyhow!("{at}: {err}");
            return Ok(Some(match key.as_str() {
                "organization" => {
                    Piece::Organization(serde_json::from_value(value).map_err(invalid)?)
                }
                "actions" => Piece::Actions(serde_json::from_value(value).map_err(invalid)?),
                _ => Piece::Catalogue(serde_json::from_value(value).map_err(invalid)?),
            }));
        }
    }

    /// Builds the value that starts with `first`.
    fn value(&mut self, first: Event, marker: &Marker) -> anyhow::Result<Value> {
        Ok(match first {
            Event::Scalar(text, style, ..) => scalar(text, style),
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                loop {
                    let (event, marker) = self.event()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.value(event, &marker)?);
                }
                Value::Array(items)
            }
            Event::MappingStart(..) => {
                let mut map = Map::new();
                loop {
                    let (event, marker) = self.event()?;
                    let key = match event {
                        Event::MappingEnd => break,
                        Event::Scalar(key, ..) => key,
                        _ => bail!("{}: a key must be text", self.at(&marker)),
                    };
                    let (event, marker) = self.event()?;
                    let value = self.value(event, &marker)?;
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            Event::Alias(_) => bail!(
                "{}: anchors and aliases are not supported in a directory file",
                self.at(marker)
            ),
            _ => bail!("{}: expected a value", self.at(marker)),
        })
    }

    /// Reads past the value that starts with `first`.
    fn skip(&mut self, first: Event, marker: &Marker) -> anyhow::Result<()> {
        let mut depth = match first {
            Event::SequenceStart(..) | Event::MappingStart(..) => 1usize,
            Event::Scalar(..) | Event::Alias(_) => return Ok(()),
            _ => bail!("{}: expected a value", self.at(marker)),
        };
        while depth > 0 {
            match self.event()?.0 {
                Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
                Event::SequenceEnd | Event::MappingEnd => depth -= 1,
                Event::StreamEnd => bail!("`{}` ends early", self.path.display()),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Iterator for DirectoryStream {
    type Item = anyhow::Result<Piece>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece().transpose()
    }
}

/// A scalar as JSON: plain ones resolved by YAML 1.2's core schema (null, booleans, numbers),
/// quoted and block ones as text.
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(integer) = text.parse::<i64>() {
                Value::Number(integer.into())
            } else if text.bytes().any(|b| b.is_ascii_digit())
                && let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64)
            {
                Value::Number(number)
            } else {
                Value::String(text)
            }
        }
    }
}

/// The characters of a UTF-8 file, decoded a buffer at a time. A read error ends them and is
/// kept for the stream to report.
struct Chars {
    reader: BufReader<File>,
    /// Bytes of a character split by the end of the last read.
    pending: Vec<u8>,
    decoded: Vec<char>,
    at: usize,
    failed: Arc<Mutex<Option<std::io::Error>>>,
}

impl Chars {
    fn fill(&mut self) -> bool {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match self.reader.read(&mut buffer) {
                Ok(read) => read,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return self.fail(err),
            };
            if read == 0 {
                if !self.pending.is_empty() {
                    return self.fail(invalid_utf8());
                }
                return false;
            }
            self.pending.extend_from_slice(&buffer[..read]);
            let valid = match std::str::from_utf8(&self.pending) {
                Ok(text) => text.len(),
                Err(err) if err.error_len().is_some() => return self.fail(invalid_utf8()),
                Err(err) => err.valid_up_to(),
            };
            let rest = self.pending.split_off(valid);
            let text = String::from_utf8_lossy(&self.pending);
            self.decoded = text.chars().collect();
            self.at = 0;
            self.pending = rest;
            if !self.decoded.is_empty() {
                return true;
            }
        }
    }

    fn fail(&mut self, err: std::io::Error) -> bool {
        if let Ok(mut failed) = self.failed.lock() {
            *failed = Some(err);
        }
        false
    }
}

fn invalid_utf8() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is not UTF-8")
}

impl Iterator for Chars {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if self.at >= self.decoded.len() && !self.fill() {
            return None;
        }
        let next = self.decoded.get(self.at).copied();
        self.at += 1;
        next
    }
}
