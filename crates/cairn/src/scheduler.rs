//! The one scheduling loop behind connectors and scheduled exports.
//!
//! Every `tick` it asks which jobs are due, and starts each due job on its own blocking
//! thread unless that job is still running: a slow or failing job never holds up
//! another, and a job never runs twice at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether a job last run at `last` (a STIX timestamp; `None` = never) is due again.
pub fn due(last: Option<&str>, every: Duration) -> bool {
    last.and_then(|t| cairn_stix::Timestamp::parse(t).ok())
        .is_none_or(|t| cairn_store::now_micros() - t.unix_micros() >= every.as_micros() as i64)
}

/// Runs forever: `due_jobs` (blocking) names the jobs to start; `run` (blocking) runs one.
pub async fn run_forever<D, R>(what: &'static str, tick: Duration, due_jobs: D, run: R)
where
    D: Fn() -> Result<Vec<String>, String> + Send + Sync + 'static,
    R: Fn(&str) -> Result<(), String> + Send + Sync + 'static,
{
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (due_jobs, run) = (Arc::new(due_jobs), Arc::new(run));
    loop {
        let d = due_jobs.clone();
        match tokio::task::spawn_blocking(move || d()).await {
            Ok(Ok(names)) => {
                for name in names {
                    if !running.lock().expect("scheduler").insert(name.clone()) {
                        continue;
                    }
                    let (r, run) = (running.clone(), run.clone());
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = run(&name) {
                            tracing::error!("{what} {name}: {e}");
                        }
                        r.lock().expect("scheduler").remove(&name);
                    });
                }
            }
            Ok(Err(e)) => tracing::error!("{what} scheduler: {e}"),
            Err(e) => tracing::error!("{what} scheduler: {e}"),
        }
        tokio::time::sleep(tick).await;
    }
}
