//! The client commands: `login`, `check`, `explain`, `lookup`, `get` and `list`, against a running
//! server through the native API. Human output by default, `--output json` for scripts.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use keycard_core::decision::Reason;
use serde_json::{Map, Value, json};

use crate::client::{Client, ClientFile, Connection, Output, Profile, answer, segment};

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(long)]
    pub username: String,
    #[command(flatten)]
    pub connection: Connection,
}

/// A question: may SUBJECT do ACTION on the resource TYPE/ID?
#[derive(Debug, Args)]
pub struct Question {
    /// An account id, username or email.
    pub subject: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The subject's properties, a JSON object (stored attributes win).
    #[arg(long)]
    pub subject_properties: Option<String>,
    /// The resource's properties, a JSON object (stored attributes win).
    #[arg(long)]
    pub resource_properties: Option<String>,
    /// The request's context, a JSON object.
    #[arg(long)]
    pub context: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Subcommand)]
pub enum LookupCommand {
    /// The resources of a type a subject may act on.
    Resources {
        subject: String,
        action: String,
        resource_type: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// The accounts that may act on a resource.
    Subjects {
        action: String,
        resource_type: String,
        resource_id: String,
        #[command(flatten)]
        connection: Connection,
    },
}

/// The kinds of entity `get` and `list` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Accounts,
    Groups,
    Roles,
    Policies,
    Resources,
    Organizations,
    DecisionKeys,
    Methods,
    Views,
    Changes,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Accounts => "/v1/accounts",
            Kind::Groups => "/v1/groups",
            Kind::Roles => "/v1/roles",
            Kind::Policies => "/v1/policies",
            Kind::Resources => "/v1/resources",
            Kind::Organizations => "/v1/organizations",
            Kind::DecisionKeys => "/v1/decision-keys",
            Kind::Methods => "/v1/catalogue/methods",
            Kind::Views => "/v1/catalogue/views",
            Kind::Changes => "/v1/changes",
        }
    }
}

#[derive(Debug, Args)]
pub struct GetArgs {
    pub kind: Kind,
    /// The id; for a resource, `TYPE/ID`.
    pub id: String,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    pub kind: Kind,
    /// Resources of this type only.
    #[arg(long = "type")]
    pub resource_type: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// `keycard login`: opens a session (the password from the terminal, or standard input's first
/// line) and keeps it in the profile.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let mut file = ClientFile::read()?;
    let profile = file
        .profiles
        .get(&args.connection.profile)
        .cloned()
        .unwrap_or_default();
    let server = args
        .connection
        .server
        .clone()
        .or(profile.server)
        .ok_or_else(|| anyhow!("no server: pass --server or set KEYCARD_SERVER"))?;
    let server = server.trim_end_matches('/').to_owned();
    if std::io::stdin().is_terminal() {
        eprint!("password for {}: ", args.username);
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let mut body = json!({"username": args.username, "password": password});
    // `--org` names the organization the account signs in to.
    if let Some(org) = &args.connection.organization {
        body["organization"] = json!(org);
    }
    let response = reqwest::Client::new()
        .post(format!("{server}/v1/sessions"))
        .json(&body)
        .send()
        .await
        .with_context(|| format!("reaching {server}"))?;
    let session = answer(response).await?;
    let token = session["token"]
        .as_str()
        .ok_or_else(|| anyhow!("the server's answer has no token"))?;
    file.profiles.insert(
        args.connection.profile.clone(),
        Profile {
            server: Some(server.clone()),
            token: Some(token.to_owned()),
            organization: args
                .connection
                .organization
                .clone()
                .or(profile.organization),
        },
    );
    let path = file.write()?;
    eprintln!(
        "signed in to {server} as {}; the session is in `{}` (profile `{}`)",
        args.username,
        path.display(),
        args.connection.profile
    );
    Ok(())
}

fn object(field: &str, text: Option<&str>) -> anyhow::Result<Option<Map<String, Value>>> {
    text.map(|text| {
        serde_json::from_str(text).with_context(|| format!("--{field} is not a JSON object"))
    })
    .transpose()
}

fn question_body(question: &Question) -> anyhow::Result<Value> {
    let mut subject = json!({"id": question.subject});
    if let Some(properties) = object("subject-properties", question.subject_properties.as_deref())?
    {
        subject["properties"] = Value::Object(properties);
    }
    let mut resource = json!({"type": question.resource_type, "id": question.resource_id});
    if let Some(properties) = object(
        "resource-properties",
        question.resource_properties.as_deref(),
    )? {
        resource["properties"] = Value::Object(properties);
    }
    let mut body = json!({"subject": subject, "action": question.action, "resource": resource});
    if let Some(context) = object("context", question.context.as_deref())? {
        body["context"] = Value::Object(context);
    }
    Ok(body)
}

/// `keycard check`: allowed or denied.
pub async fn check(question: Question) -> anyhow::Result<()> {
    let client = Client::connect(&question.connection)?;
    let answer = client.post("/v1/check", &question_body(&question)?).await?;
    match client.output {
        Output::Json => println!("{answer}"),
        Output::Human => println!(
            "{}",
            if answer["allowed"] == true {
                "allowed"
            } else {
                "denied"
            }
        ),
    }
    Ok(())
}

/// `keycard explain`: the decision and why, by name.
pub async fn explain(question: Question) -> anyhow::Result<()> {
    let client = Client::connect(&question.connection)?;
    let answer = client
        .post("/v1/explain", &question_body(&question)?)
        .await?;
    if client.output == Output::Json {
        println!("{answer}");
        return Ok(());
    }
    println!(
        "{} (revision {})",
        if answer["allowed"] == true {
            "allowed"
        } else {
            "denied"
        },
        answer["revision"]
    );
    let reasons: Vec<Reason> = serde_json::from_value(answer["reasons"].clone())
        .context("the server's reasons are unreadable")?;
    for reason in reasons {
        println!("  because {}", reason.describe());
    }
    Ok(())
}

/// `keycard lookup resources|subjects`: every page of the answer.
pub async fn lookup(command: LookupCommand) -> anyhow::Result<()> {
    let (connection, path, body) = match &command {
        LookupCommand::Resources {
            subject,
            action,
            resource_type,
            connection,
        } => (
            connection,
            "/v1/lookup/resources",
            json!({"subject": {"id": subject}, "action": action, "type": resource_type}),
        ),
        LookupCommand::Subjects {
            action,
            resource_type,
            resource_id,
            connection,
        } => (
            connection,
            "/v1/lookup/subjects",
            json!({"action": action, "resource": {"type": resource_type, "id": resource_id}}),
        ),
    };
    let client = Client::connect(connection)?;
    let mut items = Vec::new();
    let mut body = body;
    loop {
        let page = client.post(path, &body).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(cursor) => body["cursor"] = json!(cursor),
            None => break,
        }
    }
    match client.output {
        Output::Json => println!("{}", Value::Array(items)),
        Output::Human => {
            for item in items {
                match item {
                    Value::String(id) => println!("{id}"),
                    other => println!(
                        "{}\t{}",
                        other["username"].as_str().unwrap_or_default(),
                        other["id"].as_str().unwrap_or_default()
                    ),
                }
            }
        }
    }
    Ok(())
}

/// `keycard get KIND ID`.
pub async fn get(args: GetArgs) -> anyhow::Result<()> {
    let client = Client::connect(&args.connection)?;
    let path = match args.kind {
        Kind::Accounts | Kind::Groups | Kind::Roles | Kind::Policies | Kind::Organizations => {
            format!("{}/{}", args.kind.path(), segment(&args.id))
        }
        Kind::Resources => {
            let (resource_type, id) = args
                .id
                .split_once('/')
                .ok_or_else(|| anyhow!("a resource is named `TYPE/ID`"))?;
            format!("/v1/resources/{}/{}", segment(resource_type), segment(id))
        }
        other => bail!("`get` does not take {other:?}: use `list`"),
    };
    let item = client.get(&path).await?;
    match client.output {
        Output::Json => println!("{item}"),
        Output::Human => println!("{}", serde_json::to_string_pretty(&item)?),
    }
    Ok(())
}

/// `keycard list KIND`: every item, all pages.
pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = Client::connect(&args.connection)?;
    let items = match args.kind {
        Kind::Changes => client.get("/v1/changes?limit=500").await?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Kind::DecisionKeys => client.get(args.kind.path()).await?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Kind::Resources => match &args.resource_type {
            Some(resource_type) => {
                client
                    .all(args.kind.path(), &[("type", resource_type)])
                    .await?
            }
            None => client.all(args.kind.path(), &[]).await?,
        },
        kind => client.all(kind.path(), &[]).await?,
    };
    match client.output {
        Output::Json => println!("{}", Value::Array(items)),
        Output::Human => {
            for item in &items {
                println!("{}", line(item));
            }
        }
    }
    Ok(())
}

/// One item on one line: its name and its id.
fn line(item: &Value) -> String {
    let text = |key: &str| item[key].as_str().map(str::to_owned);
    let name = text("username")
        .or_else(|| text("name"))
        .or_else(|| text("path"))
        .or_else(|| text("type").map(|kind| format!("{kind}/{}", text("id").unwrap_or_default())))
        .or_else(|| {
            item["revision"].as_i64().map(|revision| {
                format!(
                    "{revision} {} {} {}",
                    text("operation").unwrap_or_default(),
                    text("entity").unwrap_or_default(),
                    text("entity_id").unwrap_or_default()
                )
            })
        })
        .unwrap_or_default();
    match text("id") {
        Some(id) if !name.ends_with(&id) => format!("{name}\t{id}"),
        _ => name,
    }
}

/// `keycard export`: the organization as a directory file.
pub async fn export(connection: &Connection, to: Option<&std::path::Path>) -> anyhow::Result<()> {
    let client = Client::connect(connection)?;
    let exported = crate::directory_export::export(&client).await?;
    let text = serde_yaml_ng::to_string(&exported)?;
    match to {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `keycard apply`: the plan, then the changes.
pub async fn apply(
    connection: &Connection,
    path: &std::path::Path,
    dry_run: bool,
    prune: bool,
) -> anyhow::Result<()> {
    use crate::directory_apply::{Options, Source};
    let source = Source::File(path);
    let survey = crate::directory_apply::survey(source, prune)?;
    let mut connection = connection.clone();
    // The file says which organization it describes, unless the command line does.
    if connection.organization.is_none() {
        connection.organization = survey.organization.as_ref().map(ToString::to_string);
    }
    let client = Client::connect(&connection)?;
    let json = client.output == Output::Json;
    let mut plan = Vec::new();
    let mut show = |step: &keycard_core::directory::Step| {
        if json {
            plan.push(step.to_string());
        } else {
            println!("{step}");
        }
    };
    let report = crate::directory_apply::apply(
        &client,
        source,
        &survey,
        Options { prune, dry_run },
        &mut show,
    )
    .await?;
    if json {
        println!(
            "{}",
            json!({"plan": plan, "applied": !dry_run, "revision": report.revision, "unchanged": report.unchanged})
        );
        return Ok(());
    }
    println!(
        "{}: {} to create, {} to update, {} to delete, {} unchanged{}",
        if dry_run {
            "plan (dry run, nothing changed)"
        } else {
            "applied"
        },
        report.created,
        report.updated,
        report.deleted,
        report.unchanged,
        report
            .revision
            .map(|at| format!(", at revision {at}"))
            .unwrap_or_default()
    );
    Ok(())
}
