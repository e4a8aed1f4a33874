//! `keycard serve`.

use std::net::SocketAddr;

use anyhow::Context as _;
use keycard_server::{AppState, app, bootstrap};
use tracing_subscriber::EnvFilter;

use crate::config::Config;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_env("KEYCARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }

    let sql = keycard_store::open_sql(&config.database).await?;
    let notifications = sql.subscribe();
    let store: std::sync::Arc<dyn keycard_core::store::Store> = std::sync::Arc::new(sql);
    let admin_password = std::env::var("KEYCARD_ADMIN_PASSWORD")
        .ok()
        .filter(|value| !value.is_empty());
    let outcome = bootstrap(store.as_ref(), admin_password.as_deref()).await?;
    if let Some(password) = outcome.generated_password {
        // Printed once, to stderr only: it is never logged or stored in clear.
        eprintln!(
            "keycard: created account `admin` in organization `default` with password: {password}"
        );
    }
    let state = AppState::load(store, config.settings()?).await?;
    let follower = state
        .app
        .follow(state.settings.follow_interval, notifications);
    let deliveries = keycard_server::webhook_delivery::spawn(state.clone());

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = %keycard_store::redact_url(&config.database), "keycard listening");
    eprintln!("keycard: listening on http://{address}");

    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    follower.abort();
    deliveries.abort();
    tracing::info!("keycard stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
