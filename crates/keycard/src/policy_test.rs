//! `keycard test FILE...`: policy tests, run in-process with no server. Each file holds a
//! directory (the format of `directory_file`) and the checks and lookups it must answer:
//!
//! ```yaml
//! directory: {roles: [...], groups: [...], accounts: [...], policies: [...]}
//! tests:
//!   - name: alice edits the readme
//!     subject: alice
//!     action: edit
//!     resource: {type: document, id: readme}
//!     expect: allow
//! lookups:
//!   - {name: what alice edits, subject: alice, action: edit, resource_type: document, expect: [readme]}
//!   - {name: who edits the readme, action: edit, resource: {type: document, id: readme}, expect: [alice]}
//! ```
//!
//! Each file is loaded into an organization of a fresh store in a temporary directory by
//! `keycard apply` itself, against a server on a loopback port of this process, and decided by
//! the same engine as the server.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use keycard_core::builtin;
use keycard_core::decision::{self, Facts};
use keycard_core::names::{OrganizationName, Username};
use keycard_core::snapshot::OrgSnapshot;
use keycard_server::app::Caller;
use keycard_server::{AppState, Settings};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{Client, Output};
use crate::directory_apply;
use crate::directory_file::{self, DirectoryFile};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    directory: DirectoryFile,
    #[serde(default)]
    tests: Vec<Check>,
    #[serde(default)]
    lookups: Vec<Lookup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    name: Option<String>,
    subject: String,
    #[serde(default)]
    subject_properties: Option<Map<String, Value>>,
    action: String,
    #[serde(default)]
    action_properties: Option<Map<String, Value>>,
    resource: Resource,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resource {
    #[serde(rename = "type")]
    resource_type: String,
    id: String,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

/// What a subject may act on (`subject` and `resource_type`), or who may act on a resource
/// (`resource`): the expected set, complete.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lookup {
    name: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    action: String,
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    expect: BTreeSet<String>,
}

/// One test's outcome.
struct Outcome {
    name: String,
    /// Why it failed: what was expected, what came, and the engine's reasons.
    failure: Option<String>,
}

/// Runs every file; prints a report; writes JUnit XML to `junit` when asked. Fails when a test
/// does.
pub async fn run(files: &[PathBuf], junit: Option<&Path>) -> anyhow::Result<()> {
    if files.is_empty() {
        bail!("name at least one test file");
    }
    let mut suites = Vec::new();
    for file in files {
        let outcomes = run_file(file)
            .await
            .with_context(|| format!("running `{}`", file.display()))?;
        println!("{}", file.display());
        for outcome in &outcomes {
            match &outcome.failure {
                None => println!("  ok    {}", outcome.name),
                Some(why) => {
                    println!("  FAIL  {}", outcome.name);
                    for line in why.lines() {
                        println!("        {line}");
                    }
                }
            }
        }
        suites.push((file.display().to_string(), outcomes));
    }
    let failed: usize = suites
        .iter()
        .map(|(_, outcomes)| outcomes.iter().filter(|o| o.failure.is_some()).count())
        .sum();
    let total: usize = suites.iter().map(|(_, outcomes)| outcomes.len()).sum();
    println!();
    println!("{} passed, {failed} failed", total - failed);
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(&suites))
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    if failed > 0 {
        bail!("{failed} of {total} policy tests failed");
    }
    Ok(())
}

/// Loads a file's directory into a fresh store and runs its tests.
async fn run_file(path: &Path) -> anyhow::Result<Vec<Outcome>> {
    let file: TestFile = directory_file::read(path)?;
    let dir = tempfile::tempdir().context("making a temporary directory")?;
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = keycard_store::open(&url).await?;
    keycard_server::bootstrap(store.as_ref(), Some("policy-test-admin-password")).await?;
    let state = AppState::load(store, Settings::default()).await?;
    let app = state.app.clone();
    let name = match &file.directory.organization {
        Some(name) => name.clone(),
        None => OrganizationName::try_from("test")?,
    };
    let mut new = builtin::standard_organization(name)?;
    if let Some(actions) = &file.directory.actions {
        new.actions = actions.clone();
    }
    let partner = Caller::operator(app.default_organization());
    let org = app.create_organization(&partner, new).await?.value;
    // The directory goes in as `keycard apply` puts it on any server: through the native API, as
    // the deployment's administrator.
    let admin = app
        .find_account(&partner, &Username::try_from("admin")?)
        .await?;
    let key = app
        .issue_api_key(&partner, Some(admin.id), "policy tests".into())
        .await?
        .value
        .secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(
        axum::serve(
            listener,
            keycard_server::app(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .into_future(),
    );
    let client = Client::new(
        &format!("http://{address}"),
        key,
        Some(org.name.to_string()),
        Output::Json,
    )?;
    let source = directory_apply::Source::Memory(&file.directory);
    let applied = match directory_apply::survey(source, false) {
        Ok(survey) => {
            directory_apply::apply(&client, source, &survey, Default::default(), &mut |_| {}).await
        }
        Err(err) => Err(err),
    };
    server.abort();
    applied.context("loading the directory")?;
    let org = org.id;
    let snapshot = app.snapshot();
    let org = snapshot
        .organization(org)
        .ok_or_else(|| anyhow!("the organization vanished"))?;
    let mut outcomes: Vec<Outcome> = file.tests.iter().map(|check| decide(org, check)).collect();
    for lookup in &file.lookups {
        outcomes.push(look_up(org, lookup)?);
    }
    Ok(outcomes)
}

fn decide(org: &OrgSnapshot, check: &Check) -> Outcome {
    let name = check.name.clone().unwrap_or_else(|| {
        format!(
            "{} {} {}/{}",
            check.subject, check.action, check.resource.resource_type, check.resource.id
        )
    });
    let decision = decision::decide(
        org,
        &decision::Query {
            subject: &check.subject,
            action: &check.action,
            resource_type: &check.resource.resource_type,
            resource_id: &check.resource.id,
            facts: Facts {
                subject: check.subject_properties.as_ref(),
                resource: check.resource.properties.as_ref(),
                action: check.action_properties.as_ref(),
                context: check.context.as_ref(),
            },
        },
    );
    let got = if decision.allowed {
        Expect::Allow
    } else {
        Expect::Deny
    };
    let failure = (got != check.expect).then(|| {
        let mut why = format!("expected {}, got {}\n", word(check.expect), word(got));
        for reason in &decision.reasons {
            let _ = writeln!(why, "because {}", reason.describe());
        }
        why
    });
    Outcome { name, failure }
}

fn word(expect: Expect) -> &'static str {
    match expect {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    }
}

fn look_up(org: &OrgSnapshot, lookup: &Lookup) -> anyhow::Result<Outcome> {
    let facts = Facts {
        subject: None,
        resource: lookup.resource.as_ref().and_then(|r| r.properties.as_ref()),
        action: None,
        context: lookup.context.as_ref(),
    };
    let (name, got): (String, BTreeSet<String>) =
        match (&lookup.subject, &lookup.resource_type, &lookup.resource) {
            (Some(subject), Some(resource_type), None) => (
                format!("what {subject} may {} among {resource_type}", lookup.action),
                decision::resources_for(org, subject, &lookup.action, resource_type, &facts)
                    .into_iter()
                    .collect(),
            ),
            (None, None, Some(resource)) => (
                format!(
                    "who may {} {}/{}",
                    lookup.action, resource.resource_type, resource.id
                ),
                decision::subjects_for(
                    org,
                    &lookup.action,
                    &resource.resource_type,
                    &resource.id,
                    &facts,
                )
                .into_iter()
                .filter_map(|id| org.account(id).map(|account| account.username.to_string()))
                .collect(),
            ),
            _ => bail!(
                "a lookup names either `subject` and `resource_type`, or `resource`: {:?}",
                lookup.name
            ),
        };
    let name = lookup.name.clone().unwrap_or(name);
    let missing: Vec<&String> = lookup.expect.difference(&got).collect();
    let unexpected: Vec<&String> = got.difference(&lookup.expect).collect();
    let failure = (!missing.is_empty() || !unexpected.is_empty()).then(|| {
        let mut why = String::from("the sets differ\n");
        for item in missing {
            let _ = writeln!(why, "- {item}   (expected, not found)");
        }
        for item in unexpected {
            let _ = writeln!(why, "+ {item}   (found, not expected)");
        }
        why
    });
    Ok(Outcome { name, failure })
}

/// The outcomes as JUnit XML, one test suite per file.
fn junit_xml(suites: &[(String, Vec<Outcome>)]) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (file, outcomes) in suites {
        let failures = outcomes.iter().filter(|o| o.failure.is_some()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            escape(file),
            outcomes.len()
        );
        for outcome in outcomes {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(file),
                escape(&outcome.name)
            );
            match &outcome.failure {
                None => xml.push_str("/>\n"),
                Some(why) => {
                    let first = why.lines().next().unwrap_or_default();
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(first),
                        escape(why)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
