//! The web UI in real browsers: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) and Firefox (Debian's `firefox-esr` and Mozilla's geckodriver), which
//! `scripts/test` installs, driven over WebDriver against a real `cairn serve` on a
//! temporary data dir.
//!
//! In each browser one session walks through the scenarios in order (starting a browser
//! costs more than most scenarios). A failing step saves a screenshot under
//! `target/tmp/browser-screenshots/` and names it in the panic.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::{json, Value};

type Step = Result<(), String>;

/// Turns any error into a step failure with its context.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(env: &str, default: &str, package: &str) -> PathBuf {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    assert!(
        p.exists(),
        "{} is missing: the browser tests need Debian's {package} (scripts/test installs it; or set {env})",
        p.display()
    );
    p
}

fn cairn(data: &Path, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_cairn")).arg("--data").arg(data).args(args).output().unwrap();
    assert!(o.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn indicator(n: u32, source: &str, confidence: u32) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--7c4a1f2e-0c1d-4e5f-8a9b-{n:012x}"),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": format!("{source} indicator {n}"),
        "pattern": format!("[ipv4-addr:value = '203.0.113.{n}']"), "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z", "confidence": confidence,
    })
}

/// A data dir with a user and three feeds: per feed ten indicators with confidence
/// 10, 20, … 100; feed-c also brings a threat actor whose name is markup.
fn seed(data: &Path) {
    cairn(data, &["user", "add", "ada", "--role", "admin", "--password", "correct horse"]);
    for (f, source) in ["feed-a", "feed-b", "feed-c"].iter().enumerate() {
        let mut objects: Vec<Value> = (0..10).map(|i| indicator(f as u32 * 10 + i + 1, source, (i + 1) * 10)).collect();
        if *source == "feed-c" {
            objects.push(json!({"type": "threat-actor", "spec_version": "2.1",
                "id": "threat-actor--7c4a1f2e-0c1d-4e5f-8a9b-0000000000ff",
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "name": "<script>alert(1)</script>", "threat_actor_types": ["crime-syndicate"]}));
        }
        let file = data.with_file_name(format!("{source}.json"));
        std::fs::write(
            &file,
            json!({"type": "bundle", "id": "bundle--7c4a1f2e-0c1d-4e5f-8a9b-000000000000", "objects": objects})
                .to_string(),
        )
        .unwrap();
        cairn(data, &["import", file.to_str().unwrap(), "--source", source, "--progress", "none"]);
    }
}

const PARTNER_COLLECTION: &str = "6f1b4c3a-2d5e-4f60-8a7b-9c0d1e2f3a4b";

/// A second Cairn as a partner's TAXII server: ten indicators (confidence 10 … 100) in
/// one collection.
fn seed_partner(data: &Path) {
    cairn(data, &["user", "add", "ada", "--role", "admin", "--password", "correct horse"]);
    let objects: Vec<Value> = (1..=10).map(|i| indicator(100 + i, "partner", i * 10)).collect();
    let file = data.with_file_name("partner.json");
    std::fs::write(&file, Value::Array(objects).to_string()).unwrap();
    cairn(data, &["import", file.to_str().unwrap(), "--source", "partner", "--progress", "none"]);
    cairn(
        data,
        &["collection", "create", "--title", "Partner feed", "--id", PARTNER_COLLECTION, "--type", "indicator"],
    );
}

fn serve(data: &Path) -> (Killed, String) {
    let (child, url) = crate::serve(data, &[]);
    (Killed(child), url)
}

/// The browsers the UI is tested in, each through its own WebDriver.
#[derive(Clone, Copy, Debug)]
enum Browser {
    /// Debian's `chromium` and `chromium-driver`.
    Chromium,
    /// Debian's `firefox-esr` and Mozilla's geckodriver (`cargo install geckodriver`).
    Firefox,
}

/// One browser at a time: two at once on a small machine make every wait slower.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Browser {
    fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }

    /// Starts the browser's WebDriver on a free port; returns it and its URL.
    async fn driver(self) -> (Killed, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = match self {
            Browser::Chromium => {
                let mut c = Command::new(tool("CAIRN_CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver"));
                c.arg(format!("--port={port}"));
                c
            }
            Browser::Firefox => {
                let default = std::env::var("HOME").map(|h| format!("{h}/.cargo/bin/geckodriver")).unwrap_or_default();
                let mut c =
                    Command::new(tool("CAIRN_GECKODRIVER", &default, "geckodriver (cargo install geckodriver)"));
                c.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
                c
            }
        };
        let child = Killed(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the WebDriver"));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok_and(|r| r.status().is_success()) {
                return (child, url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the {} WebDriver did not answer on {url}", self.name());
    }

    /// A headless session at 1280×800.
    async fn client(self, driver: &str) -> Client {
        let caps = match self {
            Browser::Chromium => json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": tool("CAIRN_CHROMIUM", "/usr/bin/chromium", "chromium"),
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"],
                },
            }),
            Browser::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": tool("CAIRN_FIREFOX", "/usr/bin/firefox-esr", "firefox-esr"),
                    "args": ["-headless", "-width=1280", "-height=800"],
                    // A dark system theme, so the dark stylesheet is walked through too.
                    "prefs": {"ui.systemUsesDarkTheme": 1, "layout.css.prefers-color-scheme.content-override": 2},
                },
            }),
        };
        let Value::Object(caps) = caps else { unreachable!() };
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(driver)
            .await
            .unwrap_or_else(|e| panic!("a {} session: {e}", self.name()));
        c
    }
}

/// Runs one scenario; on failure saves a screenshot and fails the test with both.
async fn step<F: std::future::Future<Output = Step>>(c: &Client, b: Browser, name: &str, f: F) {
    if let Err(e) = f.await {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let shot = dir.join(format!("{}-{name}.png", b.name()));
        if let Ok(png) = c.screenshot().await {
            std::fs::write(&shot, png).unwrap();
        }
        // Close the browser, or it outlives the test and its driver.
        let _ = c.clone().close().await;
        panic!("{} step '{name}' failed: {e}\n(screenshot: {})", b.name(), shot.display());
    }
}

async fn wait_for(c: &Client, css: &str) -> Result<Element, String> {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.ctx(&format!("waiting for {css}"))
}

/// Waits until a script returns true.
async fn wait_until(c: &Client, what: &str, script: &str) -> Step {
    for _ in 0..100 {
        if c.execute(script, vec![]).await.ctx(what)? == Value::Bool(true) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting until {what}"))
}

async fn text(c: &Client, css: &str) -> Result<String, String> {
    c.find(Locator::Css(css)).await.ctx(css)?.text().await.ctx(css)
}

/// The n-th condition row (over all groups) of the search builder.
async fn clause(c: &Client, n: usize) -> Result<Element, String> {
    let rows = c.find_all(Locator::Css("#groups .clause")).await.ctx("clause rows")?;
    rows.into_iter().nth(n).ok_or_else(|| format!("no condition row {n}"))
}

async fn set_clause(c: &Client, n: usize, field: &str, op: &str, value: &str) -> Step {
    let row = clause(c, n).await?;
    row.find(Locator::Css("select[aria-label='Field']"))
        .await
        .ctx("field")?
        .select_by_value(field)
        .await
        .ctx("field")?;
    row.find(Locator::Css("select[aria-label='Operator']")).await.ctx("op")?.select_by_value(op).await.ctx("op")?;
    // Changing the operator redraws the rows: find the row again.
    let row = clause(c, n).await?;
    let input = row.find(Locator::Css("input")).await.ctx("value")?;
    input.clear().await.ctx("clear")?;
    input.send_keys(value).await.ctx("value")
}

async fn results(c: &Client) -> Result<Vec<Vec<String>>, String> {
    let rows = c.find_all(Locator::Css("#results tbody tr")).await.ctx("rows")?;
    let mut out = Vec::new();
    for r in rows {
        let mut cells = Vec::new();
        for td in r.find_all(Locator::Css("td")).await.ctx("cells")? {
            cells.push(td.text().await.ctx("cell")?);
        }
        out.push(cells);
    }
    Ok(out)
}

fn api(base: &str, path: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth("ada", Some("correct horse"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_chromium() {
    walk(Browser::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_firefox() {
    walk(Browser::Firefox).await;
}

/// Every scenario of the UI, in order, in one session of browser `b`.
async fn walk(b: Browser) {
    let _one = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data);
    let (_server, base) = serve(&data);
    let partner_data = dir.path().join("partner");
    seed_partner(&partner_data);
    let (_partner, partner) = serve(&partner_data);
    let (_driver, driver_url) = b.driver().await;
    let c = b.client(&driver_url).await;

    step(&c, b, "login", async {
        c.goto(&format!("{base}/explorer")).await.ctx("open")?;
        let url = c.current_url().await.ctx("url")?;
        ensure!(url.path() == "/login", "not sent to the login page: {url}");
        c.find(Locator::Css("input[name=user]")).await.ctx("user")?.send_keys("ada").await.ctx("type")?;
        c.find(Locator::Css("input[name=password]"))
            .await
            .ctx("password")?
            .send_keys("correct horse")
            .await
            .ctx("type")?;
        c.find(Locator::Css("button[type=submit]")).await.ctx("submit")?.click().await.ctx("click")?;
        wait_for(&c, "#results").await?;
        let h1 = text(&c, "h1").await?;
        ensure!(h1 == "Intel explorer", "after login: {h1}");
        wait_until(&c, "the first results", "return document.querySelectorAll('#results tbody tr').length > 0").await
    })
    .await;

    step(&c, b, "keyboard", async {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        // Keys pressed on the page itself (no element is targeted), as a keyboard user does.
        let press = |key: char| {
            KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key })
        };
        c.goto(&format!("{base}/explorer")).await.ctx("open")?;
        wait_until(&c, "the first results", "return document.querySelectorAll('#results tbody tr').length > 0").await?;
        c.execute("document.activeElement && document.activeElement.blur()", vec![]).await.ctx("blur")?;
        c.perform_actions(press('\u{E004}')).await.ctx("Tab")?;
        let first = c.execute("return document.activeElement.textContent", vec![]).await.ctx("focus")?;
        ensure!(first == json!("Skip to content"), "Tab first reaches the skip link: {first}");
        c.perform_actions(press('\u{E007}')).await.ctx("Enter")?;
        wait_until(&c, "focus in the main content", "return document.activeElement.id === 'main'").await?;
        // The next Tab stops lead through the search form's own controls.
        c.perform_actions(press('\u{E004}')).await.ctx("Tab")?;
        let next = c.execute("return document.activeElement.id", vec![]).await.ctx("focus")?;
        ensure!(next == json!("types"), "after the skip link, the search form: {next}");
        Ok(())
    })
    .await;

    step(&c, b, "theme-and-narrow-window", async {
        // Firefox runs with a dark system theme, Chromium with a light one: the pages
        // follow it.
        c.goto(&format!("{base}/explorer")).await.ctx("open")?;
        wait_until(&c, "the first results", "return document.querySelectorAll('#results tbody tr').length > 0").await?;
        let dark = matches!(b, Browser::Firefox);
        let bg = c.execute("return getComputedStyle(document.body).backgroundColor", vec![]).await.ctx("background")?;
        let want = if dark { "rgb(15, 20, 27)" } else { "rgb(247, 248, 250)" };
        ensure!(bg == json!(want), "the {} theme's background is {want}, not {bg}", if dark { "dark" } else { "light" });
        let layout = "const f = document.getElementById('facets').getBoundingClientRect(), \
                      r = document.getElementById('results').getBoundingClientRect(), e = document.documentElement; \
                      return {beside: f.right <= r.left, stacked: f.bottom <= r.top, overflow: e.scrollWidth - e.clientWidth}";
        let wide = c.execute(layout, vec![]).await.ctx("layout")?;
        ensure!(wide["beside"] == json!(true) && wide["overflow"] == json!(0), "at 1280×800, facets beside results: {wide}");
        // A narrow window: one column, nothing wider than the window.
        c.set_window_size(420, 800).await.ctx("narrow")?;
        wait_until(&c, "the one-column layout", "return document.getElementById('facets').getBoundingClientRect().bottom <= document.getElementById('results').getBoundingClientRect().top").await?;
        let narrow = c.execute(layout, vec![]).await.ctx("layout")?;
        ensure!(narrow["stacked"] == json!(true) && narrow["overflow"] == json!(0), "at 420 px, stacked and no sideways scrolling: {narrow}");
        c.set_window_size(1280, 800).await.ctx("wide again")?;
        Ok(())
    })
    .await;

    step(&c, b, "create-with-add-and-duplicate", async {
        c.goto(&format!("{base}/new")).await.ctx("open")?;
        wait_for(&c, "#f-pattern").await?;
        c.find(Locator::Id("type")).await.ctx("type")?.select_by_value("threat-actor").await.ctx("pick type")?;
        let name = wait_for(&c, "#f-name").await?;
        let label = c.execute("return document.querySelector('label[for=f-name]').textContent", vec![]).await.ctx("label")?;
        ensure!(label.as_str().is_some_and(|l| l.contains('*')), "name is marked required: {label}");
        name.send_keys("APT Browser").await.ctx("name")?;
        c.find(Locator::Id("tlp")).await.ctx("tlp")?.select_by_value("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82").await.ctx("tlp")?;
        c.find(Locator::Id("f-labels")).await.ctx("labels")?.send_keys("ops").await.ctx("labels")?;
        wait_until(&c, "the draft is checked", "return document.getElementById('status').textContent === 'Ready to add.'").await?;
        c.find(Locator::Id("add-dup")).await.ctx("add and duplicate")?.click().await.ctx("click")?;
        wait_until(&c, "added", "return document.getElementById('status').textContent.startsWith('Added APT Browser')").await?;
        // The common metadata stays for the next object; the rest is cleared.
        ensure!(c.find(Locator::Id("f-labels")).await.ctx("labels")?.prop("value").await.ctx("v")? == Some("ops".into()), "labels kept");
        ensure!(c.find(Locator::Id("f-name")).await.ctx("name")?.prop("value").await.ctx("v")? == Some(String::new()), "name cleared");
        c.find(Locator::Id("type")).await.ctx("type")?.select_by_value("indicator").await.ctx("pick type")?;
        wait_for(&c, "#f-pattern").await?.send_keys("[ipv4-addr:value = '198.51.100.7'").await.ctx("pattern")?;
        c.find(Locator::Id("f-name")).await.ctx("name")?.send_keys("bad ip").await.ctx("name")?;
        wait_until(&c, "the pattern error is shown", "return document.getElementById('e-pattern').textContent.length > 0").await?;
        let err = text(&c, "#e-pattern").await?;
        ensure!(err.contains("position") || err.contains("column") || err.contains("at "), "the pattern error gives its position: {err}");
        c.find(Locator::Id("f-pattern")).await.ctx("pattern")?.send_keys("]").await.ctx("fix")?;
        wait_until(&c, "the fixed draft passes", "return document.getElementById('e-pattern').textContent === '' && document.getElementById('status').textContent === 'Ready to add.'").await?;
        c.find(Locator::Id("rel-search")).await.ctx("target search")?.send_keys("APT Browser").await.ctx("search")?;
        wait_for(&c, "#rel-results button.pick").await?.click().await.ctx("pick")?;
        wait_until(&c, "a suggested relationship type", "return document.getElementById('rel-type').value === 'indicates'").await?;
        c.find(Locator::Id("add")).await.ctx("add")?.click().await.ctx("click")?;
        wait_for(&c, "table.props").await?;
        ensure!(text(&c, "h1").await? == "bad ip", "on the new indicator's page");
        let page = text(&c, "main").await?;
        ensure!(page.contains("indicates") && page.contains("APT Browser"), "the relationship is shown");
        ensure!(page.contains("TLP: amber") && page.contains("ops"), "TLP and tags were kept from the first object");
        Ok(())
    })
    .await;

    step(&c, b, "three-relationships-at-once", async {
        c.goto(&format!("{base}/relationships/new")).await.ctx("open")?;
        wait_for(&c, "#source-search").await?.send_keys("APT Browser").await.ctx("source")?;
        wait_for(&c, "#source-results button.pick").await?.click().await.ctx("pick source")?;
        for n in [21, 22, 23] {
            let want = format!("feed-c indicator {n}");
            let input = c.find(Locator::Id("target-search")).await.ctx("target search")?;
            input.send_keys(&want).await.ctx("type")?;
            wait_until(&c, "target results", &format!(
                "return [...document.querySelectorAll('#target-results button.pick')].some(b => b.textContent.startsWith('{want} ('))")).await?;
            c.execute(&format!("[...document.querySelectorAll('#target-results button.pick')].find(b => b.textContent.startsWith('{want} (')).click()"), vec![]).await.ctx("pick")?;
        }
        wait_until(&c, "three rows, each with a type", "const r = [...document.querySelectorAll('#targets tbody input.rel-type')]; return r.length === 3 && r.every(i => i.value !== '')").await?;
        c.find(Locator::Id("confidence")).await.ctx("confidence")?.send_keys("60").await.ctx("type")?;
        c.find(Locator::Id("make")).await.ctx("make")?.click().await.ctx("click")?;
        wait_until(&c, "created", "return document.getElementById('status').textContent.startsWith('Created 3 relationships')").await?;
        c.find(Locator::Css("#status a")).await.ctx("source link")?.click().await.ctx("click")?;
        wait_for(&c, "table.props").await?;
        let rels = c.find_all(Locator::Css("figure.graph + table tbody tr")).await.ctx("relationship rows")?;
        ensure!(rels.len() == 4, "APT Browser has 4 relationships (3 built, 1 from the indicator): {}", rels.len());
        Ok(())
    })
    .await;

    step(&c, b, "search-or-groups", async {
        // (source = feed-a AND confidence >= 50) OR (source = feed-b AND confidence >= 50)
        c.goto(&format!("{base}/explorer")).await.ctx("open")?;
        wait_until(&c, "the first results", "return document.querySelectorAll('#results tbody tr').length > 0").await?;
        c.find(Locator::Css(".add-condition")).await.ctx("+ AND")?.click().await.ctx("click")?;
        set_clause(&c, 0, "source", "Equals", "feed-a").await?;
        c.find(Locator::Css(".add-condition")).await.ctx("+ AND")?.click().await.ctx("click")?;
        set_clause(&c, 1, "confidence", "GreaterThanEqual", "50").await?;
        c.find(Locator::Id("add-group")).await.ctx("+ OR")?.click().await.ctx("click")?;
        set_clause(&c, 2, "source", "Equals", "feed-b").await?;
        let adds = c.find_all(Locator::Css(".add-condition")).await.ctx("+ AND")?;
        adds.get(1).ok_or("no second group")?.click().await.ctx("click")?;
        set_clause(&c, 3, "confidence", "GreaterThanEqual", "50").await?;
        c.find(Locator::Css("#search button[type=submit]")).await.ctx("search")?.click().await.ctx("click")?;
        wait_until(&c, "12 results", "return document.querySelectorAll('#results tbody tr').length === 12").await?;
        for row in results(&c).await? {
            // Columns: checkbox, type, name, source, confidence, TLP, tags, valid until, modified.
            ensure!(row[3] == "feed-a" || row[3] == "feed-b", "source {row:?}");
            ensure!(row[4].parse::<u32>().is_ok_and(|n| n >= 50), "confidence {row:?}");
        }
        let url = c.current_url().await.ctx("url")?;
        ensure!(url.query().is_some_and(|q| q.starts_with("s=")), "the search is in the URL: {url}");
        Ok(())
    })
    .await;

    step(&c, b, "bulk-tag", async {
        let boxes = c.find_all(Locator::Css("#results tbody input[type=checkbox]")).await.ctx("boxes")?;
        for b in boxes.iter().take(3) {
            b.click().await.ctx("select")?;
        }
        ensure!(text(&c, "#selected-count").await? == "3 selected", "selection count");
        c.find(Locator::Id("bulk-tags")).await.ctx("tags")?.send_keys("campaign-x").await.ctx("type")?;
        c.find(Locator::Id("bulk-add")).await.ctx("add")?.click().await.ctx("click")?;
        wait_until(&c, "tagged", "return document.getElementById('status').textContent.startsWith('Tagged 3')").await?;
        let tagged = tokio::task::spawn_blocking({
            let base = base.clone();
            move || api(&base, "/api/v1/tags")
        })
        .await
        .ctx("api")?;
        let count = tagged["tags"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["tag"] == "campaign-x"))
            .map(|t| t["count"].clone());
        ensure!(count == Some(json!(3)), "tag counts: {tagged}");
        Ok(())
    })
    .await;

    step(&c, b, "edit-feed-object", async {
        let id = "indicator--7c4a1f2e-0c1d-4e5f-8a9b-000000000001";
        c.goto(&format!("{base}/objects/{id}")).await.ctx("open")?;
        c.find(Locator::Id("edit")).await.ctx("edit")?.click().await.ctx("click")?;
        let name = wait_for(&c, "#editor input[name=name]").await?;
        ensure!(name.attr("disabled").await.ctx("attr")?.is_some(), "a feed object's name is locked");
        let notice = text(&c, "#locked-reason").await?;
        ensure!(notice.contains("file:feed-a") && notice.contains("confidence"), "reason: {notice}");
        // Confidence is the analyst's to change.
        let conf = c.find(Locator::Css("#editor input[name=confidence]")).await.ctx("confidence")?;
        conf.clear().await.ctx("clear")?;
        conf.send_keys("77").await.ctx("type")?;
        c.find(Locator::Css("#editor button[type=submit]")).await.ctx("save")?.click().await.ctx("click")?;
        wait_until(&c, "the page shows 77", "return [...document.querySelectorAll('table.props tr')].some(r => r.textContent.includes('confidence') && r.textContent.includes('77'))").await?;
        // A locked field forced open in the page is still refused by the server, with the reason.
        c.find(Locator::Id("edit")).await.ctx("edit")?.click().await.ctx("click")?;
        c.execute("const i = document.querySelector('#editor input[name=name]'); i.disabled = false; i.value = 'renamed';", vec![]).await.ctx("force")?;
        c.find(Locator::Css("#editor button[type=submit]")).await.ctx("save")?.click().await.ctx("click")?;
        wait_until(&c, "a refusal", "return document.getElementById('status').classList.contains('error')").await?;
        let msg = text(&c, "#status").await?;
        ensure!(msg.contains("name"), "the refusal names the field: {msg}");
        ensure!(text(&c, "h1").await? == "feed-a indicator 1", "the name is unchanged");
        Ok(())
    })
    .await;

    step(&c, b, "rule-acts-on-a-connector-poll", async {
        c.goto(&format!("{base}/rules")).await.ctx("open")?;
        wait_for(&c, "#new-rule").await?.click().await.ctx("new rule")?;
        c.find(Locator::Id("rule-name"))
            .await
            .ctx("name")?
            .send_keys("tag confident partner intel")
            .await
            .ctx("type")?;
        c.find(Locator::Id("rule-type")).await.ctx("type")?.select_by_value("indicator").await.ctx("type")?;
        c.find(Locator::Css("#rule-groups .add-condition")).await.ctx("+ AND")?.click().await.ctx("click")?;
        let row = c.find(Locator::Css("#rule-groups .clause")).await.ctx("row")?;
        row.find(Locator::Css("select[aria-label='Field']"))
            .await
            .ctx("field")?
            .select_by_value("confidence")
            .await
            .ctx("field")?;
        row.find(Locator::Css("select[aria-label='Operator']"))
            .await
            .ctx("op")?
            .select_by_value("GreaterThanEqual")
            .await
            .ctx("op")?;
        c.find(Locator::Css("#rule-groups .clause input")).await.ctx("value")?.send_keys("50").await.ctx("value")?;
        c.find(Locator::Id("a-add-tags")).await.ctx("tags")?.send_keys("confident").await.ctx("type")?;
        // Saved disabled first; enabled from the list below.
        c.find(Locator::Id("rule-enabled")).await.ctx("enabled")?.click().await.ctx("click")?;
        c.find(Locator::Id("rule-dry-run")).await.ctx("dry run")?.click().await.ctx("click")?;
        wait_until(&c, "the dry run", "return document.getElementById('dry-run').textContent.startsWith('Matches')")
            .await?;
        let expected = tokio::task::spawn_blocking({
            let base = base.clone();
            move || {
                let r: Value = reqwest::blocking::Client::new()
                    .post(format!("{base}/api/v1/search"))
                    .basic_auth("ada", Some("correct horse"))
                    .json(&json!({"types": ["indicator"], "facets": true,
                                  "where": {"field": "confidence", "operator": "GreaterThanEqual", "values": [50]}}))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                r["facets"]["total"].as_u64().unwrap()
            }
        })
        .await
        .ctx("count")?;
        let dry = text(&c, "#dry-run p").await?;
        ensure!(dry.starts_with(&format!("Matches {expected} of ")), "dry run: {dry} (expected {expected} matches)");
        c.find(Locator::Id("rule-save")).await.ctx("save")?.click().await.ctx("click")?;
        let toggle = wait_for(&c, "#rules tbody input.enabled").await?;
        ensure!(toggle.prop("checked").await.ctx("checked")? == Some("false".into()), "saved disabled");
        toggle.click().await.ctx("enable")?;
        wait_until(
            &c,
            "enabled",
            "const t = document.querySelector('#rules tbody input.enabled'); return t && t.checked",
        )
        .await?;
        let rules = tokio::task::spawn_blocking({
            let base = base.clone();
            move || api(&base, "/api/v1/rules")
        })
        .await
        .ctx("api")?;
        ensure!(rules["rules"][0]["enabled"] == json!(true), "enabled in the store: {rules}");

        // A connector to the partner's TAXII server, added and polled from the page.
        c.goto(&format!("{base}/connectors")).await.ctx("open connectors")?;
        c.find(Locator::Css("#add-connector")).await.ctx("form")?;
        c.execute("document.querySelectorAll('details')[0].open = true", vec![]).await.ctx("open form")?;
        let f = |n: &str| format!("#add-connector [name={n}]");
        c.find(Locator::Css(&f("name"))).await.ctx("name")?.send_keys("partner").await.ctx("type")?;
        c.find(Locator::Css(&f("api_root")))
            .await
            .ctx("root")?
            .send_keys(&format!("{partner}/taxii2/api/"))
            .await
            .ctx("type")?;
        c.find(Locator::Css(&f("collection"))).await.ctx("coll")?.send_keys(PARTNER_COLLECTION).await.ctx("type")?;
        c.find(Locator::Css(&f("lookback"))).await.ctx("lookback")?.clear().await.ctx("clear")?;
        c.find(Locator::Css(&f("lookback"))).await.ctx("lookback")?.send_keys("all").await.ctx("type")?;
        c.find(Locator::Css(&f("auth"))).await.ctx("auth")?.select_by_value("basic").await.ctx("auth")?;
        c.find(Locator::Css(&f("user"))).await.ctx("user")?.send_keys("ada").await.ctx("type")?;
        c.find(Locator::Css(&f("password"))).await.ctx("pw")?.send_keys("correct horse").await.ctx("type")?;
        c.find(Locator::Id("test-connector")).await.ctx("test")?.click().await.ctx("click")?;
        wait_until(
            &c,
            "the connection test",
            "return document.getElementById('test-result').textContent.startsWith('Reached')",
        )
        .await?;
        ensure!(text(&c, "#test-result").await?.contains("Partner feed"), "the test names the collection");
        c.find(Locator::Css("#add-connector button[type=submit]")).await.ctx("add")?.click().await.ctx("click")?;
        wait_for(&c, "section.connector[data-name=partner] button.run").await?.click().await.ctx("run now")?;
        wait_until(
            &c,
            "the poll's counts",
            "return document.getElementById('status').textContent.startsWith('partner: received 10')",
        )
        .await?;
        let tagged = tokio::task::spawn_blocking({
            let base = base.clone();
            move || {
                (1..=10u32)
                    .map(|i| {
                        let o =
                            api(&base, &format!("/api/v1/objects/indicator--7c4a1f2e-0c1d-4e5f-8a9b-{:012x}", 100 + i));
                        let conf = o["object"]["confidence"].as_u64().unwrap_or(0);
                        let has = o["object"]["labels"].as_array().is_some_and(|l| l.contains(&json!("confident")));
                        (conf, has)
                    })
                    .collect::<Vec<_>>()
            }
        })
        .await
        .ctx("api")?;
        ensure!(
            tagged.iter().all(|(conf, has)| *has == (*conf >= 50)),
            "the rule tagged exactly the confident ones: {tagged:?}"
        );
        Ok(())
    })
    .await;

    step(&c, b, "kql-render-barchart", async {
        c.goto(&format!("{base}/hunting")).await.ctx("open")?;
        let editor = wait_for(&c, "#kql").await?;
        c.execute("document.getElementById('kql').value = ''", vec![]).await.ctx("clear")?;
        editor.send_keys("ThreatIntelIndicators | where SourceSystem startswith \"feed-\" | summarize count() by SourceSystem | render barchart").await.ctx("type")?;
        // Ctrl+Enter runs the query (WebDriver holds Control down for the rest of the keys).
        editor.send_keys("\u{E009}\u{E007}").await.ctx("ctrl+enter")?;
        let img = wait_for(&c, "#chart img").await?;
        let src = img.attr("src").await.ctx("src")?.unwrap_or_default();
        ensure!(src.starts_with("data:image/svg+xml"), "chart source: {}", &src[..src.len().min(60)]);
        wait_until(&c, "the chart is drawn", "const i = document.querySelector('#chart img'); return i.complete && i.naturalWidth > 0").await?;
        let svg = urlencoding_decode(&src);
        for s in ["feed-a", "feed-b", "feed-c"] {
            ensure!(svg.contains(s), "the chart labels {s}");
        }
        let rows = c.find_all(Locator::Css("#rows tbody tr")).await.ctx("rows")?;
        ensure!(rows.len() == 3, "3 rows, one per source: {}", rows.len());
        Ok(())
    })
    .await;

    step(&c, b, "default-workbook", async {
        c.goto(&format!("{base}/workbooks")).await.ctx("open")?;
        c.find(Locator::LinkText("Threat Intelligence")).await.ctx("link")?.click().await.ctx("click")?;
        wait_until(
            &c,
            "every tile has drawn",
            "const t = document.querySelectorAll('figure.tile'); return t.length > 0 && [...t].every(f => f.classList.contains('drawn') || f.classList.contains('failed'))",
        )
        .await?;
        let failed = c.find_all(Locator::Css("figure.tile.failed")).await.ctx("failed")?;
        ensure!(failed.is_empty(), "{} tiles failed", failed.len());
        let drawn = c.find_all(Locator::Css("figure.tile.drawn img")).await.ctx("drawn")?;
        ensure!(drawn.len() == 10, "10 tiles drawn, not {}", drawn.len());
        Ok(())
    })
    .await;

    step(&c, b, "edit-tiles", async {
        // On the default workbook: add a tile, move it up, edit it, delete it.
        let all_drawn = "const t = document.querySelectorAll('figure.tile'); return t.length === N && [...t].every(f => f.classList.contains('drawn') || f.classList.contains('failed'))";
        let titles = || async {
            let v = c
                .execute("return [...document.querySelectorAll('figure.tile figcaption .title')].map(t => t.textContent)", vec![])
                .await
                .ctx("titles")?;
            serde_json::from_value::<Vec<String>>(v).ctx("titles")
        };
        let open_tile = |n: usize| {
            let c = c.clone();
            async move {
                c.find(Locator::Css(&format!(".tile-edit[data-n='{n}']"))).await.ctx("edit")?.click().await.ctx("edit")?;
                wait_until(&c, "the tile form", "return !document.getElementById('tile-editor').hidden").await
            }
        };
        c.find(Locator::Id("wb-add-tile")).await.ctx("add tile")?.click().await.ctx("add tile")?;
        wait_until(&c, "the tile form", "return !document.getElementById('tile-editor').hidden").await?;
        c.find(Locator::Id("t-title")).await.ctx("title")?.send_keys("Indicators now").await.ctx("title")?;
        c.find(Locator::Id("t-query"))
            .await
            .ctx("query")?
            .send_keys("ThreatIntelIndicators | summarize Indicators = dcount(Id)")
            .await
            .ctx("query")?;
        c.find(Locator::Id("t-vis")).await.ctx("vis")?.select_by_value("number").await.ctx("vis")?;
        c.find(Locator::Css("#tile-editor button[type=submit]")).await.ctx("save")?.click().await.ctx("save")?;
        wait_until(&c, "11 tiles drawn", &all_drawn.replace('N', "11")).await?;
        let t = titles().await?;
        ensure!(t.last().map(String::as_str) == Some("Indicators now"), "the new tile comes last: {t:?}");
        ensure!(
            c.find_all(Locator::Css("figure.tile.failed")).await.ctx("failed")?.is_empty(),
            "the new tile draws"
        );
        open_tile(10).await?;
        c.find(Locator::Id("t-up")).await.ctx("up")?.click().await.ctx("up")?;
        wait_until(&c, "the tile moved up", "return document.querySelectorAll('figure.tile figcaption .title')[9]?.textContent === 'Indicators now'").await?;
        open_tile(9).await?;
        let title = c.find(Locator::Id("t-title")).await.ctx("title")?;
        title.clear().await.ctx("clear")?;
        title.send_keys("Indicators (edited)").await.ctx("title")?;
        c.find(Locator::Id("t-vis")).await.ctx("vis")?.select_by_value("table").await.ctx("vis")?;
        c.find(Locator::Css("#tile-editor button[type=submit]")).await.ctx("save")?.click().await.ctx("save")?;
        wait_until(&c, "the edited tile", "return document.querySelectorAll('figure.tile figcaption .title')[9]?.textContent === 'Indicators (edited)'").await?;
        wait_until(&c, "11 tiles drawn", &all_drawn.replace('N', "11")).await?;
        let stored = tokio::task::spawn_blocking({
            let base = base.clone();
            move || api(&base, "/api/v1/workbooks/threat-intelligence")
        })
        .await
        .ctx("api")?;
        ensure!(stored["tiles"][9]["visualization"] == json!("table"), "stored: {}", stored["tiles"][9]);
        // A query that does not parse is refused, with the reason, and nothing changes.
        open_tile(9).await?;
        c.find(Locator::Id("t-query")).await.ctx("query")?.send_keys(" | wher x").await.ctx("query")?;
        c.find(Locator::Css("#tile-editor button[type=submit]")).await.ctx("save")?.click().await.ctx("save")?;
        wait_until(&c, "the refusal", "return document.getElementById('t-status').textContent !== ''").await?;
        let refusal = text(&c, "#t-status").await?;
        ensure!(refusal.contains("where"), "the refusal says why: {refusal}");
        open_tile(9).await?;
        c.find(Locator::Id("t-delete")).await.ctx("delete")?.click().await.ctx("delete")?;
        c.accept_alert().await.ctx("confirm")?;
        wait_until(&c, "10 tiles drawn", &all_drawn.replace('N', "10")).await?;
        let t = titles().await?;
        ensure!(!t.iter().any(|x| x == "Indicators now" || x == "Indicators (edited)"), "deleted: {t:?}");
        Ok(())
    })
    .await;

    step(&c, b, "markup-stays-text", async {
        c.goto(&format!("{base}/explorer")).await.ctx("open")?;
        let kw = wait_for(&c, "#keywords").await?;
        kw.send_keys("alert").await.ctx("type")?;
        c.find(Locator::Css("#search button[type=submit]")).await.ctx("search")?.click().await.ctx("click")?;
        wait_until(&c, "one result", "return document.querySelectorAll('#results tbody tr').length === 1").await?;
        let name = text(&c, "#results tbody td.name a").await?;
        ensure!(name == "<script>alert(1)</script>", "shown as text: {name}");
        c.find(Locator::Css("#results tbody td.name a")).await.ctx("link")?.click().await.ctx("click")?;
        wait_for(&c, "table.props").await?;
        ensure!(text(&c, "h1").await? == "<script>alert(1)</script>", "the title is text");
        ensure!(c.get_alert_text().await.is_err(), "no script ran (an alert is open)");
        let scripts = c
            .execute(
                "return document.querySelectorAll('script:not([type=module]):not([type=\"application/json\"])').length",
                vec![],
            )
            .await
            .ctx("scripts")?;
        ensure!(scripts == json!(0), "no injected script elements: {scripts}");
        Ok(())
    })
    .await;

    c.close().await.unwrap();
}

/// Decodes the `%XX` escapes of a data URL (enough for the chart's text).
fn urlencoding_decode(s: &str) -> String {
    let body = s.split_once(',').map_or(s, |(_, b)| b);
    let bytes: Vec<u8> = form_urlencoded::parse(format!("x={}", body.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Screenshots of every page over the demo dataset, for people to look at:
/// `scripts/screenshots` runs this (it is ignored in the test suite) and says where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "renders screenshots for people; run by scripts/screenshots"]
async fn screenshots() {
    let out = std::env::var_os("CAIRN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    cairn(&data, &["demo"]);
    cairn(&data, &["user", "add", "ada", "--role", "admin", "--password", "correct horse"]);
    let (_server, base) = serve(&data);
    let (_driver, driver_url) = Browser::Chromium.driver().await;
    let c = Browser::Chromium.client(&driver_url).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("input[name=user]")).await.unwrap().send_keys("ada").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("correct horse").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for(&c, "#results").await.unwrap();
    let some = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            let r: Value = reqwest::blocking::Client::new()
                .post(format!("{base}/api/v1/search"))
                .basic_auth("ada", Some("correct horse"))
                .json(&json!({"types": ["threat-actor"], "limit": 1}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            r["results"][0]["object"]["id"].as_str().unwrap().to_string()
        }
    })
    .await
    .unwrap();
    let pages: Vec<(&str, String, &str)> = vec![
        ("explorer", "/explorer".into(), "return document.querySelectorAll('#results tbody tr').length > 0"),
        ("object", format!("/objects/{some}"), "return !!document.querySelector('table.props')"),
        ("new", "/new".into(), "return !!document.getElementById('f-pattern')"),
        ("relationships", format!("/relationships/new?source={some}"), "return document.getElementById('source-picked').textContent !== ''"),
        ("rules", "/rules".into(), "return document.getElementById('status').textContent !== ''"),
        ("connectors", "/connectors".into(), "return document.getElementById('targets') !== null"),
        ("import", "/import".into(), "return document.getElementById('history') !== null"),
        ("hunting", "/hunting".into(), "return true"),
        ("workbooks", "/workbooks".into(), "return true"),
        ("workbook", "/workbooks/threat-intelligence".into(),
         "return [...document.querySelectorAll('figure.tile')].every(f => f.classList.contains('drawn') || f.classList.contains('failed'))"),
        ("admin", "/admin".into(), "return document.querySelectorAll('#users tbody tr').length > 0"),
    ];
    for (i, (name, path, ready)) in pages.iter().enumerate() {
        c.goto(&format!("{base}{path}")).await.unwrap();
        wait_until(&c, name, ready).await.unwrap();
        if *name == "hunting" {
            c.find(Locator::Id("run")).await.unwrap().click().await.unwrap();
            wait_for(&c, "#chart img").await.unwrap();
        }
        let file = out.join(format!("{:02}-{name}.png", i + 1));
        std::fs::write(&file, c.screenshot().await.unwrap()).unwrap();
    }
    // The explorer in a narrow window.
    c.set_window_size(420, 800).await.unwrap();
    c.goto(&format!("{base}/explorer")).await.unwrap();
    wait_until(&c, "explorer", "return document.querySelectorAll('#results tbody tr').length > 0").await.unwrap();
    std::fs::write(out.join("12-explorer-narrow.png"), c.screenshot().await.unwrap()).unwrap();
    c.close().await.unwrap();
    eprintln!("screenshots in {}", out.display());
}
