//! `keycard admin ...`: common tasks straight against the database. A running server picks the
//! changes up from the change log.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use keycard_core::ids::{ApiKeyId, OrganizationId};
use keycard_core::model::{self, Actor, Manifest, NewAccount};
use keycard_core::names::{Email, OrganizationName, Provenance, Username};
use keycard_core::secret::{self, TokenKind};
use keycard_core::store::Store;
use keycard_server::state::organization_role;

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
    /// Imports a permission manifest (`{"methods": [...], "views": [...]}`) into the catalogue.
    ImportManifest {
        file: PathBuf,
        #[arg(long, default_value = model::DEFAULT_ORGANIZATION)]
        organization: String,
    },
}

fn actor() -> Actor {
    Actor {
        account_id: None,
        organization_id: None,
        label: "cli".to_owned(),
    }
}

async fn organization(store: &dyn Store, name: &str) -> anyhow::Result<OrganizationId> {
    let name = OrganizationName::try_from(name)?;
    Ok(store
        .find_organization(&name)
        .await?
        .ok_or_else(|| anyhow!("organization `{name}` not found"))?
        .id)
}

fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
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
    match command {
        AdminCommand::CreateAccount {
            username,
            email,
            password_stdin,
            admin,
            organization: org,
        } => {
            let org = organization(store.as_ref(), &org).await?;
            let password_hash = if password_stdin {
                Some(secret::hash_password(&read_password()?)?)
            } else {
                None
            };
            let roles = if admin {
                vec![organization_role(store.as_ref(), org, model::ADMIN_ROLE).await?]
            } else {
                Vec::new()
            };
            let written = store
                .create_account(
                    &actor(),
                    org,
                    NewAccount {
                        username: Username::try_from(username)?,
                        email: email.map(Email::try_from).transpose()?,
                        first_name: String::new(),
                        provenance: Provenance::try_from(model::LOCAL_PROVENANCE)?,
                        inactive: false,
                        service_account: false,
                        password_hash,
                        roles,
                        groups: Vec::new(),
                    },
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&written.value)?);
        }
        AdminCommand::CreateKey {
            username,
            name,
            organization: org,
        } => {
            let org = organization(store.as_ref(), &org).await?;
            let account = find_account(store.as_ref(), org, &username).await?;
            let id = ApiKeyId::new();
            let minted = secret::mint_token(TokenKind::ApiKey, id.as_uuid());
            store
                .create_api_key(&actor(), org, account.id, id, name, minted.hash)
                .await?;
            println!("{}", minted.value);
        }
        AdminCommand::SetPassword {
            username,
            organization: org,
        } => {
            let org = organization(store.as_ref(), &org).await?;
            let account = find_account(store.as_ref(), org, &username).await?;
            let hash = secret::hash_password(&read_password()?)?;
            store
                .set_password_hash(&actor(), org, account.id, Some(hash), None)
                .await?;
            eprintln!("password set for `{username}`");
        }
        AdminCommand::ImportManifest {
            file,
            organization: org,
        } => {
            let org = organization(store.as_ref(), &org).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let (methods, views) = (manifest.methods.len(), manifest.views.len());
            let revision = store.import_manifest(&actor(), org, manifest).await?;
            println!("imported {methods} methods and {views} views at revision {revision}");
        }
    }
    Ok(())
}

async fn find_account(
    store: &dyn Store,
    org: OrganizationId,
    username: &str,
) -> anyhow::Result<model::Account> {
    let name = Username::try_from(username)?;
    store
        .find_account(org, &name)
        .await?
        .ok_or_else(|| anyhow!("account `{username}` not found"))
}
