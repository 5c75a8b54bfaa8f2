//! The UI over HTTP, without a browser: login and its CSRF token, the session cookie on
//! the API, escaping, security headers and page weight. (Browser behaviour is tested in
//! headless Chromium: `tests/e2e/browser.rs`.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use cairn_store::{SqliteStore, Store};
use serde_json::json;
use tower::ServiceExt;

use crate::api::{self, ApiConfig, AppState};
use crate::auth::{self, Role};
use crate::ingest::Pipeline;

struct Ui {
    app: Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

fn ui() -> Ui {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    auth::add_user(store.as_ref(), "ada", Role::Admin, "correct horse").unwrap();
    auth::add_user(store.as_ref(), "rita", Role::Reader, "correct horse").unwrap();
    let state = Arc::new(AppState::new(Pipeline::new(store.clone()), ApiConfig::default()).unwrap());
    Ui { app: api::router(state), store, _dir: dir }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Ui {
    async fn send(&self, req: Request<Body>) -> Answer {
        let r = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 10 << 20).await.unwrap();
        Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    /// Logs in through the form; answers the session cookie and the CSRF token.
    async fn login(&self, user: &str, password: &str) -> Result<(String, String), Answer> {
        let form = self.get("/login?next=/hunting", None).await;
        let login_cookie = set_cookie(&form, "cairn_login").unwrap();
        let field = between(&form.body, "name=\"csrf\" value=\"", "\"").to_string();
        assert_eq!(login_cookie, field, "the form's token is the cookie's");
        let body = format!("user={user}&password={}&csrf={field}&next=%2Fhunting", password.replace(' ', "+"));
        let r = self
            .send(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::COOKIE, format!("cairn_login={login_cookie}"))
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        if r.status != StatusCode::SEE_OTHER {
            return Err(r);
        }
        assert_eq!(r.headers[header::LOCATION], "/hunting", "back where the user was going");
        let session = set_cookie(&r, "cairn_session").unwrap();
        let page = self.get("/explorer", Some(&format!("cairn_session={session}"))).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = between(&page.body, "name=\"csrf-token\" content=\"", "\"").to_string();
        Ok((format!("cairn_session={session}"), csrf))
    }

    async fn api(&self, method: &str, path: &str, cookie: &str, csrf: Option<&str>, body: serde_json::Value) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        self.send(b.body(Body::from(body.to_string())).unwrap()).await
    }
}

fn set_cookie(a: &Answer, name: &str) -> Option<String> {
    a.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s.find(start).unwrap_or_else(|| panic!("no {start} in {s}")) + start.len();
    &s[i..i + s[i..].find(end).unwrap()]
}

#[tokio::test]
async fn pages_need_a_session_and_login_sets_one() {
    let ui = ui();
    for page in ["/explorer", "/hunting", "/workbooks", "/workbooks/threat-intelligence", "/objects/indicator--x"] {
        let r = ui.get(page, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        let next: String = form_urlencoded::byte_serialize(page.as_bytes()).collect();
        assert_eq!(r.headers[header::LOCATION], format!("/login?next={next}").as_str());
    }
    let r = ui.get("/explorer", Some("cairn_session=forged")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "an unknown session is no session");

    let wrong = ui.login("ada", "wrong horse").await.unwrap_err();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Unknown user or wrong password"));
    let (cookie, csrf) = ui.login("ada", "correct horse").await.unwrap();
    assert!(csrf.len() >= 40);
    let page = ui.get("/explorer", Some(&cookie)).await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(page.body.contains("aria-current=\"page\">Explorer"));
}

#[tokio::test]
async fn a_login_post_without_the_form_token_is_refused() {
    let ui = ui();
    let r = ui
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("user=ada&password=correct+horse&csrf=guess"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "cairn_session").is_none());
    // And `next` never leads off this server.
    let form = ui.get("/login?next=//evil.example/x", None).await;
    assert!(form.body.contains("name=\"next\" value=\"/explorer\""));
}

#[tokio::test]
async fn the_api_takes_the_session_cookie_only_with_the_csrf_token_for_changes() {
    let ui = ui();
    let (cookie, csrf) = ui.login("ada", "correct horse").await.unwrap();
    // Reading needs no token.
    let r = ui.get("/api/v1/objects", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let obj = json!({"type": "threat-actor", "name": "APT Test", "threat_actor_types": ["nation-state"]});
    let r = ui.api("POST", "/api/v1/objects", &cookie, None, obj.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("X-CSRF-Token"));
    let r = ui.api("POST", "/api/v1/objects", &cookie, Some("wrong"), obj.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = ui.api("POST", "/api/v1/objects", &cookie, Some(&csrf), obj).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // The session's role applies: a reader may not write, token or not.
    let (rc, rt) = ui.login("rita", "correct horse").await.unwrap();
    let r = ui.api("POST", "/api/v1/objects", &rc, Some(&rt), json!({"type": "threat-actor", "name": "x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("role reader"));

    // Logging out needs the token too, and ends the session.
    let logout = |t: &str| {
        Request::post("/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body(Body::from(format!("csrf={t}")))
            .unwrap()
    };
    assert_eq!(ui.send(logout("wrong")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(ui.get("/api/v1/objects", Some(&cookie)).await.status, StatusCode::OK);
    let out = ui.send(logout(&csrf)).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(set_cookie(&out, "cairn_session").as_deref(), Some(""));
    assert_eq!(ui.get("/api/v1/objects", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(ui.get("/explorer", Some(&cookie)).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn stored_markup_is_shown_as_text() {
    let ui = ui();
    let (cookie, csrf) = ui.login("ada", "correct horse").await.unwrap();
    let evil = "<script>alert(1)</script>";
    let obj = json!({"type": "threat-actor", "name": evil, "description": "</textarea><img src=x onerror=alert(2)>",
                     "threat_actor_types": ["crime-syndicate"], "labels": ["<b>tag</b>"]});
    let r = ui.api("POST", "/api/v1/objects", &cookie, Some(&csrf), obj).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id =
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["objects"][0]["id"].as_str().unwrap().to_string();
    let page = ui.get(&format!("/objects/{id}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped in the title and table");
    assert!(!page.body.contains(evil), "never as markup");
    assert!(!page.body.contains("<img src=x"));
    assert!(!page.body.contains("<b>tag</b>"));
    // In the JSON the edit form reads, `<` is escaped so it cannot close the script element.
    assert!(page.body.contains("\\u003cscript>alert(1)\\u003c/script>"));
}

#[tokio::test]
async fn every_page_is_light() {
    let ui = ui();
    let (cookie, csrf) = ui.login("ada", "correct horse").await.unwrap();
    let r = ui
        .api(
            "POST",
            "/api/v1/objects",
            &cookie,
            Some(&csrf),
            json!({"type": "malware", "name": "m", "is_family": true}),
        )
        .await;
    let id =
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["objects"][0]["id"].as_str().unwrap().to_string();
    assert!(ui.store.current(&id).unwrap().is_some());
    let object = format!("/objects/{id}");
    let pages = [
        "/explorer", "/new", "/relationships/new", "/rules", "/connectors", "/import", "/hunting", "/workbooks",
        "/workbooks/threat-intelligence", "/admin", &object,
    ];
    for page in pages {
        let r = ui.get(page, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        // The page and every stylesheet and script it loads (app.js is imported by the modules).
        let mut total = r.body.len();
        let mut assets: Vec<String> = r
            .body
            .match_indices("/assets/")
            .map(|(i, _)| between(&r.body[i..], "/assets/", "\"").to_string())
            .collect();
        assets.push("app.js".into());
        for a in &assets {
            let asset = ui.get(&format!("/assets/{}", a.replace("&amp;", "&")), None).await;
            assert_eq!(asset.status, StatusCode::OK, "{a}");
            total += asset.body.len();
        }
        assert!(total < 200 * 1024, "{page}: {total} bytes");
    }
}

#[tokio::test]
async fn admin_pages_and_their_api_are_for_admins() {
    let ui = ui();
    let (rc, _) = ui.login("rita", "correct horse").await.unwrap();
    for page in ["/admin", "/connectors"] {
        assert_eq!(ui.get(page, Some(&rc)).await.status, StatusCode::FORBIDDEN, "{page}");
    }
    assert_eq!(ui.get("/api/v1/users", Some(&rc)).await.status, StatusCode::FORBIDDEN);
    let page = ui.get("/explorer", Some(&rc)).await;
    assert!(!page.body.contains("href=\"/admin\""), "a reader is not offered the admin page");

    let (cookie, csrf) = ui.login("ada", "correct horse").await.unwrap();
    let add_user = |name: &str, role: &str| {
        ui.api(
            "POST",
            "/api/v1/users",
            &cookie,
            Some(&csrf),
            json!({"name": name, "role": role, "password": "long enough"}),
        )
    };
    let r = add_user("carl", "contributor").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = add_user("x", "king").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown role"));
    let users = ui.get("/api/v1/users", Some(&cookie)).await;
    assert!(
        users.body.contains("\"carl\"") && !users.body.contains("argon2"),
        "names and roles, never hashes: {}",
        users.body
    );
    let r = ui.api("DELETE", "/api/v1/users/ada", &cookie, Some(&csrf), json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not yourself");

    // A token is shown once; it works until revoked.
    let r = ui.api("POST", "/api/v1/tokens", &cookie, Some(&csrf), json!({"name": "siem", "role": "reader"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let made: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let token = made["token"].as_str().unwrap().to_string();
    let listed = ui.get("/api/v1/tokens", Some(&cookie)).await;
    assert!(listed.body.contains(made["id"].as_str().unwrap()) && !listed.body.contains(&token), "{}", listed.body);
    let with_token = |t: &str| {
        Request::get("/api/v1/objects")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(ui.send(with_token(&token)).await.status, StatusCode::OK);
    let r = ui
        .api("DELETE", &format!("/api/v1/tokens/{}", made["id"].as_str().unwrap()), &cookie, Some(&csrf), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(ui.send(with_token(&token)).await.status, StatusCode::UNAUTHORIZED);

    let info: serde_json::Value = serde_json::from_str(&ui.get("/api/v1/instance", Some(&rc)).await.body).unwrap();
    assert_eq!(info["instance_id"].as_str().unwrap(), ui.store.instance_id().unwrap());
    assert!(info["upload_api"]
        .as_str()
        .unwrap()
        .starts_with(&format!("/workspaces/{}/", info["instance_id"].as_str().unwrap())));
}
