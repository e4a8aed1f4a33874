//! The reference for the HTTP benchmark: a bare axum handler that parses the same JSON POST as an
//! AuthZEN evaluation and answers a constant decision. `bare-axum ADDRESS`

use axum::Json;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[allow(dead_code)] // parsed, as the real handler would, but not used
struct Evaluation {
    subject: Value,
    action: Value,
    resource: Value,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let app = axum::Router::new().route(
        "/access/v1/evaluation",
        post(|Json(_): Json<Evaluation>| async { Json(json!({"decision": true})) }),
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!("bare-axum: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
