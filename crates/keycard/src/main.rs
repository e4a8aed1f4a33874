//! `keycard`: the authorization server and its command-line tools.

use std::process::ExitCode;

use clap::Parser;

mod admin;
mod cli;
mod client;
mod client_commands;
mod config;
mod directory_apply;
mod directory_export;
mod directory_file;
mod directory_stream;
mod policy_test;
mod progress;
mod serve;

/// mimalloc: glibc's allocator serialises threads on its arena lock when one thread frees what
/// another allocated, which is what loading a snapshot (the SQLite driver's thread allocates rows,
/// the loader frees them) and serving requests do all the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
