//! The page shell every page shares: navigation by role, the CSRF token for the
//! scripts, the stylesheet, and a skip link for keyboard users.

use maud::{html, Markup, DOCTYPE};

use super::PageUser;
use crate::auth::Role;

/// The navigation: (path, label, least role that sees it).
const NAV: &[(&str, &str, Role)] = &[
    ("/explorer", "Explorer", Role::Reader),
    ("/new", "Add new", Role::Contributor),
    ("/relationships/new", "Relationships", Role::Contributor),
    ("/rules", "Rules", Role::Reader),
    ("/connectors", "Connectors", Role::Admin),
    ("/import", "Import", Role::Reader),
    ("/hunting", "Hunting", Role::Reader),
    ("/workbooks", "Workbooks", Role::Reader),
    ("/admin", "Admin", Role::Admin),
];

/// A whole page. `active` is the navigation entry to mark; `scripts` are modules under
/// `/assets/`.
pub fn page(title: &str, user: &PageUser, active: &str, scripts: &[&str], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, html! {
                meta name="csrf-token" content=(user.csrf);
                meta name="cairn-role" content=(user.principal.role.as_str());
                @for s in scripts {
                    script type="module" src=(super::assets::url(s)) {}
                }
            }))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/explorer" { "Cairn" }
                    nav aria-label="Main" {
                        @for (path, label, role) in NAV {
                            @if user.principal.role >= *role {
                                @if *path == active {
                                    a href=(path) aria-current="page" { (label) }
                                } @else {
                                    a href=(path) { (label) }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (user.principal.name) " · " (user.principal.role.as_str()) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The head of every page, the login page's too: `extra` is the page's own.
pub fn head(title: &str, extra: Markup) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Cairn" }
            link rel="stylesheet" href=(super::assets::url("app.css"));
            (extra)
        }
    }
}

/// A page with a message only (not found, forbidden).
pub fn message(title: &str, user: &PageUser, text: &str) -> Markup {
    page(title, user, "", &[], html! { p.notice { (text) } })
}
