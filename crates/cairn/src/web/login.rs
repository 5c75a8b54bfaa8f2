//! `/login` and `/logout`.
//!
//! The login form is protected against login CSRF with a double-submit token: `GET
//! /login` sets a random `cairn_login` cookie and puts the same value in the form; a
//! post whose field and cookie differ is refused. (SameSite=Strict already keeps other
//! sites' forms from carrying the cookie; the token also covers old browsers.)

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::{cookie, html_status, secure, session_cookie, SESSION_COOKIE};
use crate::api::SharedState;
use crate::auth::{random_token, same_secret, SESSION_TTL};

const LOGIN_COOKIE: &str = "cairn_login";

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only paths on this server are followed after login (no `//evil.example`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n,
        _ => "/explorer",
    }
}

fn login_page(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (super::layout::head("Log in", html! {}))
            body.login {
                main #main {
                    form.card method="post" action="/login" {
                        h1 { "Cairn" }
                        @if let Some(e) = error {
                            p.error role="alert" { (e) }
                        }
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next);
                        label { "User" input name="user" autocomplete="username" required autofocus; }
                        label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

fn with_login_cookie(mut r: Response, value: &str) -> Response {
    let c = format!("{LOGIN_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
    r.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&c).expect("a token is a header value"));
    r
}

pub async fn form(Query(q): Query<Next>) -> Response {
    let csrf = random_token();
    let page = super::html(login_page(&csrf, safe_next(q.next.as_deref()), None));
    with_login_cookie(page, &csrf)
}

#[derive(Deserialize)]
pub struct Credentials {
    user: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn submit(State(state): State<SharedState>, headers: HeaderMap, Form(f): Form<Credentials>) -> Response {
    let next = safe_next(f.next.as_deref()).to_string();
    let again = |status: StatusCode, why: &str| {
        let csrf = random_token();
        with_login_cookie(html_status(status, login_page(&csrf, &next, Some(why))), &csrf)
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &f.csrf) {
        return again(StatusCode::FORBIDDEN, "The form had expired. Please log in again.");
    }
    let auth = state.auth.clone();
    let user = f.user.clone();
    let result = tokio::task::spawn_blocking(move || auth.login(&user, &f.password)).await;
    match result {
        Ok(Ok((principal, session))) => {
            tracing::info!(user = %principal.name, "web login");
            let mut r = Redirect::to(&next).into_response();
            let c = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                session.token,
                SESSION_TTL.as_secs()
            );
            r.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&c).expect("a token is a header value"));
            r.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("cairn_login=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            secure(r)
        }
        _ => again(StatusCode::UNAUTHORIZED, "Unknown user or wrong password."),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

pub async fn logout(State(state): State<SharedState>, headers: HeaderMap, Form(f): Form<LogoutForm>) -> Response {
    if let Some(token) = session_cookie(&headers) {
        let auth = state.auth.clone();
        let check = token.clone();
        let csrf = tokio::task::spawn_blocking(move || auth.by_session(&check).map(|(_, c)| c)).await;
        match csrf {
            Ok(Ok(c)) if same_secret(&c, &f.csrf) => {
                let auth = state.auth.clone();
                let _ = tokio::task::spawn_blocking(move || auth.end_session(&token)).await;
            }
            Ok(Ok(_)) => {
                return (StatusCode::FORBIDDEN, "wrong CSRF token: reload the page and log out again").into_response()
            }
            _ => {}
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("cairn_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    secure(r)
}
