//! Command-line arguments and dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::{admin, client_commands, serve};

#[derive(Debug, Parser)]
#[command(
    name = "keycard",
    version,
    about = "Keycard: roles, groups and policies that just work"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Database URL (`sqlite://keycard.db`); created if missing.
    #[arg(long, global = true, env = "KEYCARD_DATABASE_URL")]
    pub database: Option<String>,
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, global = true, env = "KEYCARD_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server.
    Serve(ServeArgs),
    /// Creates or upgrades the database schema, then exits.
    Migrate,
    /// Prints the OpenAPI document of the native API.
    Openapi,
    /// Administrative tasks against the database.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Signs in to a server and keeps the session in a profile of the client file (mode 0600).
    Login(client_commands::LoginArgs),
    /// Asks a server whether a subject may do an action on a resource.
    Check(client_commands::Question),
    /// Asks a server for a decision and why, naming roles, groups and policies.
    Explain(client_commands::Question),
    /// Asks a server which resources a subject may act on, or who may act on a resource.
    #[command(subcommand)]
    Lookup(client_commands::LookupCommand),
    /// Reads one entity from a server.
    Get(client_commands::GetArgs),
    /// Lists every entity of a kind on a server.
    List(client_commands::ListArgs),
    /// Writes an organization of a server as a directory file (YAML).
    Export {
        /// The file to write; standard output when absent.
        #[arg(short, long)]
        output_file: Option<PathBuf>,
        #[command(flatten)]
        connection: crate::client::Connection,
    },
    /// Makes an organization of a server match a directory file, and prints the plan.
    Apply {
        /// The directory file (YAML or JSON).
        #[arg(short, long)]
        file: PathBuf,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete what the file does not list (never the signed-in account).
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        connection: crate::client::Connection,
    },
    /// Prints a shell completion script (`source <(keycard completions bash)`).
    Completions { shell: clap_complete::Shell },
    /// Prints the manual page, in roff (`keycard man > keycard.1`).
    Man,
    /// Runs policy tests: each file holds a directory and the checks and lookups it must answer.
    /// In-process, with no server; exits non-zero when a test fails.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files (YAML or JSON).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:8080`); port 0 picks a free port.
    #[arg(long, env = "KEYCARD_LISTEN")]
    pub listen: Option<String>,
    /// The URL clients reach the server at (`https://authz.example.com`): discovery documents
    /// are built from it instead of the request's `Host`, and an `https` one marks cookies `Secure`.
    #[arg(long, env = "KEYCARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-Proto` is believed (comma-separated).
    #[arg(long, env = "KEYCARD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Write a JSON line per decision to `stderr` or to this file (off by default).
    #[arg(long, env = "KEYCARD_DECISION_LOG")]
    pub decision_log: Option<String>,
    /// The share of decisions the decision log keeps, 0 to 1 (default 1).
    #[arg(long, env = "KEYCARD_DECISION_LOG_SAMPLE")]
    pub decision_log_sample: Option<f64>,
    /// The decision log keeps only denials.
    #[arg(long, env = "KEYCARD_DECISION_LOG_ONLY_DENIED")]
    pub decision_log_only_denied: Option<bool>,
    /// The hosts webhooks may reach (comma-separated names or addresses); none by default.
    #[arg(long, env = "KEYCARD_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub webhook_allow_hosts: Option<Vec<String>>,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = match &cli.common.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(database) = cli.common.database {
        config.database = database;
    }
    match cli.command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(public_url) = args.public_url {
                config.public_url = Some(public_url);
            }
            if let Some(proxies) = args.trusted_proxies {
                config.trusted_proxies = proxies;
            }
            if let Some(target) = args.decision_log {
                config.decision_log = Some(target);
            }
            if let Some(sample) = args.decision_log_sample {
                config.decision_log_sample = sample;
            }
            if let Some(only_denied) = args.decision_log_only_denied {
                config.decision_log_only_denied = only_denied;
            }
            if let Some(hosts) = args.webhook_allow_hosts {
                config.webhook_allow_hosts = hosts
                    .into_iter()
                    .map(|host| host.trim().to_owned())
                    .filter(|host| !host.is_empty())
                    .collect();
            }
            serve::run(config).await
        }
        Command::Migrate => {
            keycard_store::open(&config.database).await?;
            println!(
                "schema is current: {}",
                keycard_store::redact_url(&config.database)
            );
            Ok(())
        }
        Command::Openapi => {
            println!("{}", keycard_server::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Admin(command) => admin::run(&config, command).await,
        Command::Login(args) => client_commands::login(args).await,
        Command::Check(question) => client_commands::check(question).await,
        Command::Explain(question) => client_commands::explain(question).await,
        Command::Lookup(command) => client_commands::lookup(command).await,
        Command::Get(args) => client_commands::get(args).await,
        Command::List(args) => client_commands::list(args).await,
        Command::Export {
            output_file,
            connection,
        } => client_commands::export(&connection, output_file.as_deref()).await,
        Command::Apply {
            file,
            dry_run,
            prune,
            connection,
        } => client_commands::apply(&connection, &file, dry_run, prune).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "keycard", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Test(args) => crate::policy_test::run(&args.files, args.junit.as_deref()).await,
    }
}
