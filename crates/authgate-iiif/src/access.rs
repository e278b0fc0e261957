//! The access service, profile `active` (§3): a sign-in page the viewer opens in a new window
//! with `?origin=`. Signing in is the user gesture browsers need before they send the access
//! cookie from another site's pages (Appendix A); the cookie is set on the answer to the form,
//! whose page then closes its window.
//!
//! The form carries a CSRF token of its own (a random value in a short-lived cookie, repeated
//! in the form), so another site cannot sign a browser in to an account of its choosing.
//! Passwords are checked by the shared `PasswordSignIn`, so failures count toward the same
//! per-name lockout as the token service's and the console's.
//!
//! `POST /iiif/access` with a JSON body is the login of common tutorials: it answers an access
//! token for the probe (and for content, where a client can send one) and sets no cookie.

use crate::page::{AccessPage, Framing, NoticePage, json_error, render};
use crate::{ACCESS_COOKIE, IiifService};
use authgate_core::{ErrorCode, key};
use authgate_token::sign_in::SignInError;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use axum_extra::extract::CookieJar;
use cookie::{Cookie, SameSite};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The sign-in form's own CSRF cookie.
const FORM_COOKIE: &str = "authgate_iiif_form";
/// How long the sign-in form may stay open, in seconds.
const FORM_LIFETIME: i64 = 3600;

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub(crate) struct JsonLogin {
    username: String,
    password: String,
}

/// `GET /iiif/access?origin=`: the sign-in form.
pub(crate) async fn page(
    State(service): State<IiifService>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let origin = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "origin")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if let Some(refused) = service.refuse_origin(&origin) {
        return refused;
    }
    // Signed in already, for this viewer: nothing to ask, the window can close at once.
    let cookie = jar.get(ACCESS_COOKIE).map(|cookie| cookie.value());
    if let Ok(session) = service.session(cookie).await
        && session
            .origin
            .as_deref()
            .is_none_or(|opened_for| opened_for == origin)
    {
        return notice(
            StatusCode::OK,
            "Signed in",
            &format!("You are signed in as {}.", session.user),
            true,
        );
    }
    service.form(jar, &origin, "", None, StatusCode::OK)
}

/// `POST /iiif/access`: the form signs in and sets the access cookie; JSON answers a token.
pub(crate) async fn submit(
    State(service): State<IiifService>,
    jar: CookieJar,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if json {
        return service.json_login(&headers, request).await;
    }
    let Ok(Form(input)) = Form::<SignInForm>::from_request(request, &()).await else {
        return notice(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The sign-in form could not be read.",
            false,
        );
    };
    service.sign_in(jar, input).await
}

impl IiifService {
    /// The page that refuses a viewer whose origin may not receive tokens: signing in would
    /// not help it.
    fn refuse_origin(&self, origin: &str) -> Option<Response> {
        if origin.is_empty() || self.allows_origin(origin) {
            return None;
        }
        let text = &self.0.config.errors.invalid_origin;
        Some(notice(
            StatusCode::FORBIDDEN,
            &text.heading,
            &text.note,
            false,
        ))
    }

    fn form(
        &self,
        jar: CookieJar,
        origin: &str,
        username: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> Response {
        let csrf = key::generate("iiifform").secret;
        let cookie = Cookie::build((FORM_COOKIE, csrf.clone()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.0.secure_form_cookie)
            .path("/iiif/")
            .max_age(cookie::time::Duration::seconds(FORM_LIFETIME))
            .build();
        let config = &self.0.config;
        let page = AccessPage {
            label: &config.label,
            heading: &config.heading,
            note: &config.note,
            confirm_label: &config.confirm_label,
            origin,
            csrf: &csrf,
            username,
            error,
        };
        (jar.add(cookie), render(status, &page, Framing::Nobody)).into_response()
    }

    async fn sign_in(&self, jar: CookieJar, input: SignInForm) -> Response {
        if let Some(refused) = self.refuse_origin(&input.origin) {
            return refused;
        }
        let expected = jar
            .get(FORM_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .unwrap_or_default();
        let forged =
            expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(input.csrf.as_bytes()));
        let refused = |message: &str, status| {
            self.form(
                jar.clone(),
                &input.origin,
                &input.username,
                Some(message),
                status,
            )
        };
        if forged {
            return refused(
                "This form expired or was not sent by this page. Try again.",
                StatusCode::FORBIDDEN,
            );
        }
        let user = match self.0.sign_in.check(&input.username, &input.password).await {
            Ok(user) => user,
            Err(SignInError::WrongCredentials | SignInError::TooLong) => {
                return refused("Wrong user name or password.", StatusCode::UNAUTHORIZED);
            }
            Err(SignInError::LockedOut(wait)) => {
                let message = format!(
                    "Too many failed attempts for this user name. Try again in {} s.",
                    wait.as_secs().max(1)
                );
                return refused(&message, StatusCode::TOO_MANY_REQUESTS);
            }
            Err(SignInError::StoreUnavailable) => {
                return refused(
                    "Signing in is unavailable right now; try again shortly.",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        };
        let origin = (!input.origin.is_empty()).then_some(input.origin.as_str());
        let secret = match self.start_session(&user, origin).await {
            Ok(session) => session.secret,
            Err(error) => {
                tracing::warn!(%error, "cannot start an IIIF session");
                return refused(
                    "Signing in is unavailable right now; try again shortly.",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        };
        let lifetime = self.0.config.session_lifetime.0.as_secs();
        let jar = jar
            .remove(Cookie::build(FORM_COOKIE).path("/iiif/"))
            .add(access_cookie(secret, lifetime));
        let page = notice(
            StatusCode::OK,
            "Signed in",
            &format!("You are signed in as {}.", user.name),
            true,
        );
        (jar, page).into_response()
    }

    async fn json_login(&self, headers: &HeaderMap, request: Request) -> Response {
        let login = match Json::<JsonLogin>::from_request(request, &()).await {
            Ok(Json(login)) => login,
            Err(_) => return json_error(ErrorCode::MalformedRequest),
        };
        // A browser says which page asked; the token is bound to it. Only allowed origins can
        // read the answer (CORS), so another site's page never sees a token.
        let origin = headers
            .get(http::header::ORIGIN)
            .and_then(|value| value.to_str().ok());
        let readable_by = origin.filter(|origin| self.allows_origin(origin));
        let user = match self.0.sign_in.check(&login.username, &login.password).await {
            Ok(user) => user,
            Err(SignInError::WrongCredentials | SignInError::TooLong) => {
                return json_error(ErrorCode::InvalidCredentials);
            }
            Err(SignInError::LockedOut(wait)) => {
                return json_error_after(ErrorCode::RateLimited, Some(wait.as_secs().max(1)));
            }
            Err(SignInError::StoreUnavailable) => {
                return json_error(ErrorCode::StoreUnavailable);
            }
        };
        let issued = async {
            let session = self.start_session(&user, origin).await?;
            self.issue_token(&session.id, session.expires_at, origin)
                .await
        };
        let mut response = match issued.await {
            Ok(issued) => (
                [(http::header::CACHE_CONTROL, "no-store")],
                Json(serde_json::json!({
                    "accessToken": issued.token,
                    "expiresIn": issued.expires_in,
                })),
            )
                .into_response(),
            Err(error) => {
                tracing::warn!(%error, "cannot issue an IIIF token");
                json_error(ErrorCode::StoreUnavailable)
            }
        };
        allow_origin(&mut response, readable_by);
        response
    }
}

/// `OPTIONS /iiif/access`: the preflight of a JSON login from an allowed origin.
pub(crate) async fn preflight(State(service): State<IiifService>, headers: HeaderMap) -> Response {
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .filter(|origin| service.allows_origin(origin));
    let mut response = StatusCode::NO_CONTENT.into_response();
    allow_origin(&mut response, origin);
    if origin.is_some() {
        let headers = response.headers_mut();
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// Lets a page on `origin` read the answer.
fn allow_origin(response: &mut Response, origin: Option<&str>) {
    let headers = response.headers_mut();
    headers.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = origin.and_then(|origin| HeaderValue::from_str(origin).ok()) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
}

/// The access cookie: sent by the browser from viewers on other sites too (to the token
/// service's frame and to `<img>`), which needs `SameSite=None`, which needs `Secure`.
pub(crate) fn access_cookie(value: String, max_age: u64) -> Cookie<'static> {
    Cookie::build((ACCESS_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::None)
        .secure(true)
        .path("/")
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age).unwrap_or(i64::MAX),
        ))
        .build()
}

/// A page that says one thing; `closes` after a sign-in or sign-out.
pub(crate) fn notice(status: StatusCode, title: &str, message: &str, closes: bool) -> Response {
    render(
        status,
        &NoticePage {
            title,
            message,
            closes,
        },
        Framing::Nobody,
    )
}

/// [`json_error`] with `Retry-After` when given.
fn json_error_after(code: ErrorCode, retry_after: Option<u64>) -> Response {
    let mut response = json_error(code);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
