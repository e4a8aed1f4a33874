//! `keycard admin ...`: common tasks run against the database by the deployment's operator,
//! through the same operations as the API. A running server picks the changes up from the change
//! log.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use keycard_core::model::{self, Manifest, NewAccount};
use keycard_core::names::{Email, Username};
use keycard_server::app::{App, Caller, hash_password};
use keycard_server::{AppState, Settings};

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an account; the password is read from standard input when `--password-stdin` is given.
    CreateAccount {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Give the account the organization's `Admin` role.
        #[arg(long)]
        admin: bool,
        #[arg(long, default_value = model::DEFAULT_ORGANIZATION)]
        organization: String,
    },
    /// Mints an API key for an account and prints it (shown once).
    CreateKey {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = model::DEFAULT_ORGANIZATION)]
        organization: String,
    },
    /// Sets an account's password, read from standard input.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = model::DEFAULT_ORGANIZATION)]
        organization: String,
    },
    /// Copies a whole store (ids, password hashes, key digests, the change log and its revision)
    /// into an empty database, such as from SQLite to PostgreSQL. Refuses a target holding data.
    Copy {
        /// The store to copy (`sqlite://keycard.db`).
        #[arg(long)]
        from: String,
        /// The empty database to copy into (`postgres://user:pass@host/db`); migrated first.
        #[arg(long)]
        to: String,
    },
    /// Imports a permission manifest (`{"methods": [...], "views": [...]}`) into the catalogue.
    ImportManifest {
        file: PathBuf,
        #[arg(long, default_value = model::DEFAULT_ORGANIZATION)]
        organization: String,
    },
}

/// The operator acting in the organization named `name`.
fn operator(app: &App, name: &str) -> anyhow::Result<Caller> {
    let org = app
        .organization_named(name)
        .map_err(|_| anyhow!("organization `{name}` not found"))?;
    Ok(Caller::operator(org))
}

fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    // A copy opens its own two stores, and must not make the default organization in either.
    if let AdminCommand::Copy { from, to } = &command {
        let source = keycard_store::open_sql(from).await?;
        let target = keycard_store::open_sql(to).await?;
        let report = source.copy_into(&target).await?;
        for (table, rows) in &report.tables {
            println!("{table}: {rows} rows");
        }
        println!("copied at revision {}", report.revision);
        return Ok(());
    }
    let store = keycard_store::open(&config.database).await?;
    let admin_password = std::env::var("KEYCARD_ADMIN_PASSWORD")
        .ok()
        .filter(|value| !value.is_empty());
    if let Some(password) = keycard_server::bootstrap(store.as_ref(), admin_password.as_deref())
        .await?
        .generated_password
    {
        eprintln!(
            "keycard: created account `admin` in organization `default` with password: {password}"
        );
    }
    // Commands go through the same operations as the API, as the deployment's operator.
    let app = AppState::load(store, Settings::default())
        .await?
        .app
        .clone();
    match command {
        AdminCommand::CreateAccount {
            username,
            email,
            password_stdin,
            admin,
            organization,
        } => {
            let caller = operator(&app, &organization)?;
            let password_hash = if password_stdin {
                Some(hash_password(read_password()?).await?)
            } else {
                None
            };
            let roles = if admin {
                vec![app.system_role(&caller, model::ADMIN_ROLE)?]
            } else {
                Vec::new()
            };
            let new = NewAccount {
                email: email.map(Email::try_from).transpose()?,
                password_hash,
                roles,
                ..NewAccount::local(Username::try_from(username)?)
            };
            let written = app.create_account(&caller, new).await?;
            println!("{}", serde_json::to_string_pretty(&written.value)?);
        }
        AdminCommand::CreateKey {
            username,
            name,
            organization,
        } => {
            let caller = operator(&app, &organization)?;
            let account = app
                .find_account(&caller, &Username::try_from(username)?)
                .await?;
            let issued = app.issue_api_key(&caller, Some(account.id), name).await?;
            println!("{}", issued.value.secret);
        }
        AdminCommand::SetPassword {
            username,
            organization,
        } => {
            let caller = operator(&app, &organization)?;
            let account = app
                .find_account(&caller, &Username::try_from(username.as_str())?)
                .await?;
            app.set_password(&caller, account.id, Some(read_password()?), None)
                .await?;
            eprintln!("password set for `{username}`");
        }
        AdminCommand::Copy { .. } => {}
        AdminCommand::ImportManifest { file, organization } => {
            let caller = operator(&app, &organization)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let (methods, views) = (manifest.methods.len(), manifest.views.len());
            let revision = app.import_manifest(&caller, manifest).await?;
            println!("imported {methods} methods and {views} views at revision {revision}");
        }
    }
    Ok(())
}
