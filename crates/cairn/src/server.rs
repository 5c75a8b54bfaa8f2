//! `cairn serve`: the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::api::{self, ApiConfig, AppState};
use crate::ingest::Pipeline;

/// Serves the API on `listen` until Ctrl-C or SIGTERM.
pub fn serve(pipeline: Pipeline, listen: SocketAddr, config: ApiConfig) -> anyhow::Result<()> {
    let state = Arc::new(AppState::new(pipeline, config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {listen}: {e} (is another server running there? use --listen)")
        })?;
        let addr = listener.local_addr()?;
        eprintln!("cairn listening on http://{addr} (instance {})", state.instance_id);
        // Connectors poll on their own schedule; each poll runs on its own blocking thread.
        tokio::spawn(crate::connector::schedule(state.pipeline.clone(), std::time::Duration::from_secs(15)));
        tokio::spawn(crate::export::schedule(state.pipeline.store().clone(), std::time::Duration::from_secs(15)));
        axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown()).await?;
        Ok(())
    })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
