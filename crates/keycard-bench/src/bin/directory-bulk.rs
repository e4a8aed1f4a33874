//! Bulk apply against one request at a time: a directory of ACCOUNTS accounts, GROUPS nested
//! groups and PER_ACCOUNT memberships per account, applied by the real `keycard apply` (streamed,
//! in batches through `POST /v1/directory/batch`) to one fresh server, and created through `/v1`
//! one request at a time (each group, then each account with its groups) on another fresh server,
//! in the same run. With `--sample N`, the one-at-a-time side creates the groups and the first N
//! accounts only, and its time for the whole directory is its measured rate over that work.
//!
//! It also applies the file a second time (nothing to write: the revision must not move) and
//! reads the client's peak memory from `/proc` while it runs, for the full file and for a tenth
//! of it: streaming keeps the two close.
//!
//! `cargo build --release -p keycard && cargo run --release -p keycard-bench --bin directory-bulk -- [ACCOUNTS GROUPS PER_ACCOUNT] [--sample N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark fails loudly

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use keycard_core::ids::ApiKeyId;
use keycard_core::model::Actor;
use keycard_core::names::{OrganizationName, Username};
use keycard_core::secret::{self, TokenKind};
use keycard_core::store::Store;
use keycard_server::{AppState, Settings, bootstrap};
use serde_json::{Value, json};

struct Shape {
    accounts: usize,
    groups: usize,
    per_account: usize,
}

impl Shape {
    /// The groups account `account` is in: distinct, spread over all groups.
    fn groups_of(&self, account: usize) -> Vec<usize> {
        let mut groups: Vec<usize> = (0..self.per_account)
            .map(|n| (account * 7 + n * 997) % self.groups)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The group group `group` is inside: a tree ten wide.
    fn parent_of(group: usize) -> Option<usize> {
        (group > 0).then(|| (group - 1) / 10)
    }

    fn memberships(&self) -> usize {
        (0..self.accounts).map(|a| self.groups_of(a).len()).sum()
    }

    /// Writes the directory file as `keycard export` would: roles, groups, then accounts.
    fn write(&self, path: &Path) -> anyhow::Result<u64> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(out, "roles:\n- name: members")?;
        writeln!(out, "groups:")?;
        for group in 0..self.groups {
            writeln!(out, "- name: g{group}")?;
            if group == 0 {
                writeln!(out, "  roles: [members]")?;
            }
            if let Some(parent) = Self::parent_of(group) {
                writeln!(out, "  inside: [g{parent}]")?;
            }
        }
        writeln!(out, "accounts:")?;
        for account in 0..self.accounts {
            let groups: Vec<String> = self
                .groups_of(account)
                .iter()
                .map(|g| format!("g{g}"))
                .collect();
            writeln!(
                out,
                "- username: u{account}\n  email: u{account}@example.com\n  groups: [{}]",
                groups.join(", ")
            )?;
        }
        out.flush()?;
        Ok(std::fs::metadata(path)?.len())
    }
}

/// A server on a loopback port over a fresh SQLite file, and an API key of its administrator.
struct Server {
    base: String,
    key: String,
    store: Arc<dyn Store>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &Path, name: &str) -> anyhow::Result<Server> {
    let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let store = keycard_store::open(&url).await?;
    bootstrap(store.as_ref(), Some("bench-admin-password")).await?;
    let org = store
        .find_organization(&OrganizationName::try_from("default")?)
        .await?
        .context("no default organization")?;
    let admin = store
        .find_account(org.id, &Username::try_from("admin")?)
        .await?
        .context("no admin")?;
    let id = ApiKeyId::new();
    let minted = secret::mint_token(TokenKind::ApiKey, id.as_uuid());
    store
        .create_api_key(
            &Actor::system(),
            org.id,
            Some(admin.id),
            id,
            "bench".into(),
            minted.hash,
        )
        .await?;
    let state = AppState::load(store.clone(), Settings::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            keycard_server::app(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Ok(Server {
        base,
        key: minted.value,
        store,
        task,
    })
}

/// How long `keycard apply -f file` took, its peak resident memory, and what it printed last.
fn apply(keycard: &Path, server: &Server, file: &Path) -> anyhow::Result<(Duration, u64, String)> {
    let started = Instant::now();
    let mut child = Command::new(keycard)
        .args(["apply", "-f"])
        .arg(file)
        .env("KEYCARD_SERVER", &server.base)
        .env("KEYCARD_TOKEN", &server.key)
        .env("KEYCARD_CLIENT_CONFIG", "/nonexistent/keycard-client.toml")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut last = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            last = line.unwrap_or_default();
        }
        last
    });
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kb) = text
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        {
            peak = peak.max(kb);
        }
        if let Some(done) = child.try_wait()? {
            if !done.success() {
                return Err(anyhow!("keycard apply failed"));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = reader.join().map_err(|_| anyhow!("the reader failed"))?;
    Ok((started.elapsed(), peak, last))
}

/// Creates the groups and the first `accounts` accounts through `/v1`, one request at a time.
async fn one_at_a_time(
    server: &Server,
    shape: &Shape,
    accounts: usize,
) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.base))
            .bearer_auth(&server.key)
            .json(&body)
            .send()
    };
    let started = Instant::now();
    let answer: Value = post("/v1/roles", json!({"name": "members"}))
        .await?
        .json()
        .await?;
    let role = answer["data"]["id"]
        .as_str()
        .context("no role id")?
        .to_owned();
    let mut groups = Vec::with_capacity(shape.groups);
    for group in 0..shape.groups {
        let mut body = json!({"name": format!("g{group}")});
        if group == 0 {
            body["roles"] = json!([role]);
        }
        if let Some(parent) = Shape::parent_of(group) {
            body["parents"] = json!([groups[parent]]);
        }
        let response = post("/v1/groups", body).await?;
        if !response.status().is_success() {
            return Err(anyhow!("creating a group: {}", response.text().await?));
        }
        let answer: Value = response.json().await?;
        groups.push(
            answer["data"]["id"]
                .as_str()
                .context("no group id")?
                .to_owned(),
        );
    }
    for account in 0..accounts {
        let ids: Vec<&String> = shape
            .groups_of(account)
            .iter()
            .map(|g| &groups[*g])
            .collect();
        let response = post(
            "/v1/accounts",
            json!({"username": format!("u{account}"), "email": format!("u{account}@example.com"), "groups": ids}),
        )
        .await?;
        if !response.status().is_success() {
            return Err(anyhow!("creating an account: {}", response.text().await?));
        }
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let sample = match args.iter().position(|arg| arg == "--sample") {
        Some(at) => {
            let n = args.get(at + 1).context("--sample N")?.parse::<usize>()?;
            args.drain(at..=at + 1);
            Some(n)
        }
        None => None,
    };
    let number = |at: usize, default: usize| -> anyhow::Result<usize> {
        Ok(args
            .get(at)
            .map(|n| n.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let shape = Shape {
        accounts: number(0, 100_000)?,
        groups: number(1, 10_000)?,
        per_account: number(2, 10)?,
    };
    let keycard: PathBuf = std::env::current_exe()?
        .parent()
        .context("no directory")?
        .join("keycard");
    if !keycard.exists() {
        return Err(anyhow!(
            "`{}` is missing: cargo build --release -p keycard",
            keycard.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("keycard-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("directory.yaml");
    let bytes = shape.write(&file)?;
    let memberships = shape.memberships();
    println!(
        "directory: {} accounts, {} groups (nested ten wide), {memberships} memberships; {:.1} MiB of YAML",
        shape.accounts,
        shape.groups,
        bytes as f64 / 1048576.0
    );

    let bulk = start(&dir, "bulk").await?;
    let (took, peak, last) = apply(&keycard, &bulk, &file)?;
    println!(
        "keycard apply:            {:>8.1} s  ({last}); client peak {} MiB",
        took.as_secs_f64(),
        peak / 1024
    );
    let before = bulk.store.latest_revision().await?;
    let (again, _, last) = apply(&keycard, &bulk, &file)?;
    let after = bulk.store.latest_revision().await?;
    assert_eq!(before, after, "the second apply wrote");
    println!(
        "keycard apply again:      {:>8.1} s  ({last})",
        again.as_secs_f64()
    );
    bulk.task.abort();

    let tenth = Shape {
        accounts: shape.accounts / 10,
        groups: shape.groups,
        per_account: shape.per_account,
    };
    let small = dir.join("tenth.yaml");
    tenth.write(&small)?;
    let other = start(&dir, "tenth").await?;
    let (_, small_peak, _) = apply(&keycard, &other, &small)?;
    other.task.abort();
    println!(
        "client peak memory: {} MiB for the whole file, {} MiB for a tenth of it",
        peak / 1024,
        small_peak / 1024
    );

    let single = start(&dir, "single").await?;
    let accounts = sample.unwrap_or(shape.accounts).min(shape.accounts);
    let measured = one_at_a_time(&single, &shape, accounts).await?;
    single.task.abort();
    let entities = (shape.groups + accounts + 1) as f64;
    let all = (shape.groups + shape.accounts + 1) as f64;
    let whole = measured.as_secs_f64() * all / entities;
    println!(
        "/v1 one request at a time: {:>8.1} s  ({} groups and {accounts} accounts in {:.1} s, {:.0} entities/s){}",
        whole,
        shape.groups,
        measured.as_secs_f64(),
        entities / measured.as_secs_f64(),
        if accounts < shape.accounts {
            ", the whole directory at that rate"
        } else {
            ""
        }
    );
    println!(
        "bulk apply is {:.1}x faster than one request at a time",
        whole / took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
