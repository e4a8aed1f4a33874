//! `keycard`: the authorization server and its command-line tools.

use std::process::ExitCode;

use clap::Parser;

mod admin;
mod cli;
mod config;
mod serve;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keycard: {err:#}");
            ExitCode::FAILURE
        }
    }
}
