//! `cairn serve`: the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::api::{self, ApiConfig, AppState};
use crate::ingest::Pipeline;

/// Serves the API on `listen` until Ctrl-C or SIGTERM.
/// A directory of JSON-lines event files to match as they grow.
pub struct WatchConfig {
    pub dir: std::path::PathBuf,
    pub mapping: String,
    /// Where match lines are appended.
    pub matches_log: std::path::PathBuf,
    /// How often sightings from watched events are written.
    pub flush_every: std::time::Duration,
}

pub fn serve(
    pipeline: Pipeline,
    listen: SocketAddr,
    config: ApiConfig,
    watch: Option<WatchConfig>,
    enrich: crate::enrichment::EnrichOptions,
) -> anyhow::Result<()> {
    let enricher = enrich.enricher()?.map(Arc::new);
    let pipeline = match &enricher {
        Some(e) => {
            let facts = e.fact_source(pipeline.store().clone());
            pipeline.with_facts(facts)
        }
        None => pipeline,
    };
    let mut state = AppState::new(pipeline, config)?;
    state.enricher = enricher;
    let state = Arc::new(state);
    let watcher = match watch {
        Some(w) => {
            if !w.dir.is_dir() {
                anyhow::bail!("--watch {}: not a directory", w.dir.display());
            }
            let mapping = Arc::new(crate::detect::Mapping::load(&w.mapping)?);
            let store = state.pipeline.store().clone();
            eprintln!(
                "watching {} for event files (*.json, *.jsonl, *.ndjson, *.log; mapping {}); matches go to {}",
                w.dir.display(),
                mapping.name,
                w.matches_log.display()
            );
            let watcher = crate::detect::watch::Watcher::new(store.as_ref(), w.dir, mapping, Some(w.matches_log))?
                .with_flush_every(w.flush_every);
            Some(Arc::new(std::sync::Mutex::new(watcher)))
        }
        None => None,
    };
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
        tokio::spawn(crate::search::follow_store(state.pipeline.store().clone(), std::time::Duration::from_secs(1)));
        if let Some(e) = state.enricher.clone() {
            tokio::spawn(crate::enrichment::follow_store(
                state.pipeline.store().clone(),
                e,
                std::time::Duration::from_secs(2),
            ));
        }
        // The indicator index follows the store; the watcher (if any) matches with it.
        tokio::spawn(crate::detect::watch::follow_store(
            state.pipeline.store().clone(),
            state.detector.clone(),
            std::time::Duration::from_secs(2),
        ));
        if let Some(w) = watcher.clone() {
            tokio::spawn(crate::detect::watch::run(
                w,
                state.detector.clone(),
                state.pipeline.clone(),
                std::time::Duration::from_secs(1),
            ));
        }
        axum::serve(listener, api::router(state.clone())).with_graceful_shutdown(shutdown()).await?;
        if let Some(w) = watcher {
            // What the watcher matched since its last flush is written before exiting.
            let pipeline = state.pipeline.clone();
            let flushed = tokio::task::spawn_blocking(move || w.lock().expect("watcher lock").flush(&pipeline)).await?;
            match flushed {
                Ok(n) => eprintln!("stopped; {n} sightings written from watched events"),
                Err(e) => eprintln!("error: could not write the last sightings of watched events: {e}"),
            }
        }
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
