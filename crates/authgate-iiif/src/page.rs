//! Pages and files: askama templates (escaping by default), scripts and styles compiled into
//! the binary, and the headers each kind of page needs. No page runs inline script, so every
//! one has a Content-Security-Policy that allows scripts from this origin only.

use askama::Template;
use authgate_core::ErrorCode;
use authgate_core::error::ErrorBody;
use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderName, HeaderValue, StatusCode};

/// Who may put a page in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The token page: viewers on any site frame it (the message goes to one origin only).
    Anyone,
    /// Every other page: sign-in in a frame could be disguised, so never.
    Nobody,
}

/// `page` rendered with `status` and the headers every IIIF page carries.
pub(crate) fn render(status: StatusCode, page: &impl Template, framing: Framing) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "an IIIF page could not be rendered");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response();
        }
    };
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    let policy = match framing {
        Framing::Anyone => "default-src 'none'; script-src 'self'; base-uri 'none'",
        Framing::Nobody => {
            headers.insert(
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            );
            // The demo's client reaches the IIIF services and the image wherever the public
            // URL puts them, which may be another origin than the page's.
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src *; \
             connect-src *; form-action 'self'; frame-src *; frame-ancestors 'none'; \
             base-uri 'none'"
        }
    };
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(policy),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The gateway's JSON error for `code` (the IIIF services' JSON answers share its shape).
pub(crate) fn json_error(code: ErrorCode) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        ErrorBody::new(code).to_json(),
    )
        .into_response()
}

/// The files the pages load, compiled in.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "iiif.css",
        "text/css; charset=utf-8",
        include_str!("../assets/iiif.css"),
    ),
    (
        "close.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/close.js"),
    ),
    (
        "token.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/token.js"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/demo.js"),
    ),
];

/// `GET /iiif/assets/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (CONTENT_TYPE, *content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}

/// The sign-in page (`templates/access.html`).
#[derive(Template)]
#[template(path = "access.html")]
pub(crate) struct AccessPage<'a> {
    pub(crate) label: &'a str,
    pub(crate) heading: &'a str,
    pub(crate) note: &'a str,
    pub(crate) confirm_label: &'a str,
    pub(crate) origin: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) username: &'a str,
    pub(crate) error: Option<&'a str>,
}

/// A page that says one thing and, after a sign-in or sign-out, closes its window.
#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    pub(crate) closes: bool,
}

/// The token service's page: `message` is posted to `target` by `token.js`.
#[derive(Template)]
#[template(path = "token.html")]
pub(crate) struct TokenPage {
    /// The message as JSON, HTML-escaped into an attribute by the template.
    pub(crate) message: String,
    pub(crate) target: String,
}
