//! `cairn bench ui`: the web UI's first render over a large store, measured from a
//! client on loopback: each page's HTML with the scripts and stylesheet it loads, and
//! for the explorer the first search the page makes (a page of 50 with facet counts).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::percentile;

pub fn bench_ui(count: usize, runs: usize) -> anyhow::Result<i32> {
    let tmp = tempfile::tempdir()?;
    let store = super::search::load_store(tmp.path(), count)?;
    crate::auth::add_user(store.as_ref(), "bench", crate::auth::Role::Admin, "bench password")
        .map_err(anyhow::Error::msg)?;
    let some_id = store.search(&cairn_store::SearchQuery { limit: 1, ..Default::default() })?.items[0].id.clone();
    let state =
        Arc::new(crate::api::AppState::new(crate::ingest::Pipeline::new(store), crate::api::ApiConfig::default())?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    runtime.spawn(async move {
        let _ = axum::serve(listener, crate::api::router(state)).await;
    });
    let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;

    // Log in as a browser does: the form's token, then the session cookie.
    let form = client.get(format!("{base}/login")).send()?;
    let login_cookie = cookie(&form, "cairn_login").ok_or_else(|| anyhow::anyhow!("no login cookie"))?;
    let r = client
        .post(format!("{base}/login"))
        .header("Cookie", format!("cairn_login={login_cookie}"))
        .form(&[("user", "bench"), ("password", "bench password"), ("csrf", &login_cookie), ("next", "/explorer")])
        .send()?;
    let session =
        format!("cairn_session={}", cookie(&r, "cairn_session").ok_or_else(|| anyhow::anyhow!("login failed"))?);
    let page_html = client.get(format!("{base}/explorer")).header("Cookie", &session).send()?.text()?;
    let csrf = page_html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("no CSRF token"))?
        .to_string();

    // One page load: the HTML, then everything it loads (the scripts import app.js and
    // the condition builder), as a browser with an empty cache fetches them.
    let load = |path: &str| -> anyhow::Result<(f64, usize)> {
        let t = Instant::now();
        let html = client.get(format!("{base}{path}")).header("Cookie", &session).send()?.text()?;
        let mut bytes = html.len();
        let mut assets: Vec<String> = html
            .match_indices("/assets/")
            .filter_map(|(i, _)| html[i..].split('"').next().map(|a| a.replace("&amp;", "&")))
            .collect();
        assets.push("/assets/app.js".into());
        if path.starts_with("/explorer") || path.starts_with("/rules") {
            assets.push("/assets/conditions.js".into());
        }
        for a in &assets {
            bytes += client.get(format!("{base}{a}")).send()?.bytes()?.len();
        }
        Ok((t.elapsed().as_secs_f64() * 1e3, bytes))
    };
    let first_search = || -> anyhow::Result<(f64, usize)> {
        let t = Instant::now();
        let body = client
            .post(format!("{base}/api/v1/search"))
            .header("Cookie", &session)
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"facets": true, "limit": 50, "sort": "modified", "order": "desc"}))
            .send()?
            .bytes()?;
        let v: Value = serde_json::from_slice(&body)?;
        anyhow::ensure!(v["results"].as_array().is_some_and(|r| r.len() == 50), "a first page of 50");
        Ok((t.elapsed().as_secs_f64() * 1e3, body.len()))
    };
    let object = format!("/objects/{some_id}");
    let pages =
        ["/explorer", object.as_str(), "/new", "/rules", "/connectors", "/import", "/hunting", "/workbooks", "/admin"];
    println!("ui: {count} objects; {runs} runs per page; times are p50 / p99 from a loopback client");
    for path in pages {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let (ms, bytes) = load(path)?;
            let (ms, bytes) = if path == "/explorer" {
                let (s, b) = first_search()?;
                (ms + s, bytes + b)
            } else {
                (ms, bytes)
            };
            times.push(ms);
            size = bytes;
        }
        times.sort_by(f64::total_cmp);
        let what = if path == "/explorer" { "/explorer + first search with facets" } else { path };
        println!(
            "  {what:<44} {:>7.1} ms / {:>7.1} ms  {:>6.1} KB transferred",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            size as f64 / 1024.0
        );
    }
    Ok(0)
}

fn cookie(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
}
