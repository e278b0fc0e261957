//! The web admin UI at `/` (SPEC §7): server-rendered pages over the operations layer.
//!
//! - Every page but sign-in passes [`require_session`]: the session cookie names a live session
//!   of an admin, or the browser is sent to sign in (403 for a signed-in non-admin). A form
//!   post must carry the session's CSRF token in its `csrf` field, checked here once for every
//!   form, before any handler runs.
//! - Pages are askama templates (`templates/`), which escape every value by default; assets
//!   (`assets/`) are compiled into the binary. Scripts only add comfort (copy buttons): every
//!   action is a form and a redirect, and every destructive one has a confirmation page.
//! - After a change, a short notice (never a secret) rides a one-minute cookie to the page the
//!   browser is sent to; secrets are shown on the page that answers the form, once, with
//!   `Cache-Control: no-store` like every page here.

mod applications;
mod audit;
mod chart;
mod dashboard;
mod forms;
mod people;
mod sign_in;
mod signing_keys;
mod view;

use crate::AdminState;
use crate::auth::client_address;
use askama::Template;
use authgate_ops::{OpsError, Session};
use authgate_store::{Actor, StoreError};
use authgate_token::PasswordSignIn;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::middleware::{Next, from_fn_with_state, map_response};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, Method, StatusCode};

/// The cookie that carries a session's secret.
pub(crate) const SESSION_COOKIE: &str = "authgate_session";
/// The cookie that carries the notice of the last change to the next page.
const NOTICE_COOKIE: &str = "authgate_notice";
/// The largest form the UI reads: its fields are names, permissions and short texts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the UI needs beyond the operations.
pub struct UiOptions {
    /// Checks passwords at sign-in, with the token service's per-name throttle.
    pub sign_in: PasswordSignIn,
    /// Cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

/// Who is signed in, for a handler behind [`require_session`].
#[derive(Clone)]
pub(crate) struct SignedIn {
    pub(crate) session: Session,
    /// The session's user, from the client's address: who the audit log names.
    pub(crate) actor: Actor,
    /// What the last change said, if the browser was sent here after one.
    pub(crate) notice: Option<String>,
}

pub(crate) fn routes(state: AdminState) -> Router {
    let pages = Router::new()
        .route("/", get(dashboard::page))
        .route(
            "/applications",
            get(applications::list).post(applications::create),
        )
        .route("/applications/{id}", get(applications::detail))
        .route(
            "/applications/{id}/confirm/{action}",
            get(applications::confirm),
        )
        .route("/applications/{id}/suspend", post(applications::suspend))
        .route("/applications/{id}/resume", post(applications::resume))
        .route("/applications/{id}/delete", post(applications::delete))
        .route("/applications/{id}/keys", post(applications::create_key))
        .route("/applications/{id}/tokens", post(applications::issue_token))
        .route(
            "/keys/{id}/confirm/{action}",
            get(applications::confirm_key),
        )
        .route("/keys/{id}/revoke", post(applications::revoke_key))
        .route("/keys/{id}/regenerate", post(applications::regenerate_key))
        .route("/users", get(people::users).post(people::create_user))
        .route("/users/{id}/roles", post(people::set_roles))
        .route("/users/{id}/confirm/delete", get(people::confirm_delete))
        .route("/users/{id}/delete", post(people::delete_user))
        .route("/roles", get(people::roles).post(people::create_role))
        .route(
            "/roles/{name}/confirm/delete",
            get(people::confirm_delete_role),
        )
        .route("/roles/{name}/delete", post(people::delete_role))
        .route("/signing-keys", get(signing_keys::page))
        .route("/signing-keys/confirm/rotate", get(signing_keys::confirm))
        .route("/signing-keys/rotate", post(signing_keys::rotate))
        .route("/audit", get(audit::page))
        .route("/sign-out", post(sign_in::sign_out))
        .layer(from_fn_with_state(state.clone(), require_session));
    Router::new()
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/assets/{file}", get(asset))
        .merge(pages)
        .fallback(|| async { error_page(StatusCode::NOT_FOUND, "There is no such page.") })
        .layer(map_response(security_headers))
        .with_state(state)
}

/// Lets a request through to a page only with a live admin session, and a form post only with
/// its session's CSRF token.
async fn require_session(
    State(state): State<AdminState>,
    jar: CookieJar,
    request: Request,
    next: Next,
) -> Response {
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) => state.ops.session(cookie.value()).await,
        None => Ok(None),
    };
    let session = match session {
        Ok(Some(session)) => session,
        Ok(None) => return Redirect::to("/sign-in").into_response(),
        Err(error) => return failure(error),
    };
    if !session.is_admin() {
        return error_page(
            StatusCode::FORBIDDEN,
            "Only admins may use this console. Ask an admin to give you the admin role.",
        );
    }
    let (parts, body) = request.into_parts();
    let mut request = if parts.method == Method::POST {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
        };
        let csrf = url::form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if !session.csrf_matches(&csrf) {
            return error_page(
                StatusCode::FORBIDDEN,
                "This form could not be verified (its CSRF token is missing or belongs to another session). Go back, reload the page and try again.",
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };
    let forget_notice = request.method() == Method::GET && jar.get(NOTICE_COOKIE).is_some();
    let notice = jar
        .get(NOTICE_COOKIE)
        .filter(|_| forget_notice)
        .map(|cookie| decode_notice(cookie.value()));
    let actor = Actor {
        name: session.user.clone(),
        source: client_address(&request),
        signed_in: true,
    };
    request.extensions_mut().insert(SignedIn {
        session,
        actor,
        notice,
    });
    let mut response = next.run(request).await;
    if forget_notice {
        let gone = state.ui.cookie(NOTICE_COOKIE, String::new(), 0);
        if let Ok(value) = HeaderValue::from_str(&gone.to_string()) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// Sends the browser to `to` with `notice` for the page it finds there.
pub(crate) fn done(state: &AdminState, to: &str, notice: &str) -> Response {
    let encoded: String = url::form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    let cookie = state.ui.cookie(NOTICE_COOKIE, encoded, 60);
    let mut response = Redirect::to(to).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

fn decode_notice(value: &str) -> String {
    url::form_urlencoded::parse(format!("n={value}").as_bytes())
        .next()
        .map(|(_, text)| text.chars().take(300).collect())
        .unwrap_or_default()
}

impl UiOptions {
    /// A cookie of the UI's: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over https,
    /// living `max_age` seconds.
    pub(crate) fn cookie(
        &self,
        name: &'static str,
        value: String,
        max_age: i64,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure_cookies)
            .path("/")
            .max_age(cookie::time::Duration::seconds(max_age))
            .build()
    }
}

/// A page rendered, or a plain error if its template fails.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

/// A page that only says what went wrong.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    render(
        status,
        &view::ErrorPage {
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        },
    )
}

/// An operation's failure as a page: what was not found, what conflicts, or an outage.
pub(crate) fn failure(error: OpsError) -> Response {
    match error {
        OpsError::Invalid { field, message } => {
            error_page(StatusCode::BAD_REQUEST, &format!("{field}: {message}"))
        }
        OpsError::Conflict(message) | OpsError::Store(StoreError::Conflict(message)) => {
            error_page(StatusCode::CONFLICT, &message)
        }
        OpsError::Store(StoreError::NotFound(what)) => {
            error_page(StatusCode::NOT_FOUND, &format!("There is no {what}."))
        }
        OpsError::Store(StoreError::Invalid(message)) => {
            error_page(StatusCode::BAD_REQUEST, &message)
        }
        error => {
            tracing::error!(%error, "an admin UI request failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable; try again shortly.",
            )
        }
    }
}

/// What every UI response carries: no caching (pages may hold secrets), a policy that runs
/// only our own scripts and styles, and no framing.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    set(headers, "x-content-type-options", "nosniff");
    if !headers.contains_key(CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

/// The stylesheet and script, compiled in.
async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match file.as_str() {
        "app.css" => (
            include_str!("../../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        "app.js" => (
            include_str!("../../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return error_page(StatusCode::NOT_FOUND, "There is no such file."),
    };
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
