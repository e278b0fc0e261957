//! Signing in and out. The sign-in form carries a CSRF token of its own (a random value in a
//! short-lived cookie, repeated in the form), so that another site cannot sign a browser in to
//! an account of its choosing. Passwords are checked by the token service's `PasswordSignIn`,
//! so failures count toward the same per-name lockout.

use super::view::SignInPage;
use super::{SESSION_COOKIE, SignedIn, done, failure, render};
use crate::AdminState;
use crate::auth::client_address;
use authgate_core::key;
use authgate_core::permission::is_admin;
use authgate_token::sign_in::SignInError;
use axum::Form;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, RequestExt};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The sign-in form's own CSRF cookie.
const SIGN_IN_COOKIE: &str = "authgate_sign_in";
/// How long the sign-in form may stay open, in seconds.
const SIGN_IN_FORM_LIFETIME: i64 = 3600;

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The sign-in form, with a fresh CSRF token.
pub(crate) async fn page(State(state): State<AdminState>, jar: CookieJar) -> Response {
    let notice = jar
        .get(super::NOTICE_COOKIE)
        .map(|cookie| super::decode_notice(cookie.value()));
    // Said once: the notice is forgotten as it is shown.
    let jar = match notice {
        Some(_) => jar.remove(state.ui.cookie(super::NOTICE_COOKIE, String::new(), 0)),
        None => jar,
    };
    form(&state, jar, String::new(), None, notice, StatusCode::OK)
}

fn form(
    state: &AdminState,
    jar: CookieJar,
    username: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = key::generate("signin").secret;
    let jar = jar.add(
        state
            .ui
            .cookie(SIGN_IN_COOKIE, csrf.clone(), SIGN_IN_FORM_LIFETIME),
    );
    let page = SignInPage {
        csrf,
        username,
        error,
        notice,
    };
    (jar, render(status, &page)).into_response()
}

pub(crate) async fn submit(
    State(state): State<AdminState>,
    jar: CookieJar,
    request: Request,
) -> Response {
    let source = client_address(&request);
    let Ok(Form(input)) = request.extract::<Form<SignInForm>, _>().await else {
        return super::error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in form could not be read.",
        );
    };
    let expected = jar
        .get(SIGN_IN_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .unwrap_or_default();
    let forged =
        expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(input.csrf.as_bytes()));
    if forged {
        return form(
            &state,
            jar,
            input.username,
            Some("This form expired or was not sent by this page. Try again.".into()),
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let refused = |message: String, status| {
        form(
            &state,
            jar.clone(),
            input.username.clone(),
            Some(message),
            None,
            status,
        )
    };
    let user = match state
        .ui
        .sign_in
        .check(&input.username, &input.password)
        .await
    {
        Ok(user) => user,
        Err(SignInError::WrongCredentials | SignInError::TooLong) => {
            return refused(
                "Wrong user name or password.".into(),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(SignInError::LockedOut(wait)) => {
            return refused(
                format!(
                    "Too many failed attempts for this user name. Try again in {} s.",
                    wait.as_secs().max(1)
                ),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(SignInError::StoreUnavailable) => {
            return refused(
                "The store is unavailable; try again shortly.".into(),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    if !is_admin(&user.roles) {
        return refused(
            "Only admins may use this console. Ask an admin to give you the admin role.".into(),
            StatusCode::FORBIDDEN,
        );
    }
    let started = match state.ops.start_session(&user, &source).await {
        Ok(started) => started,
        Err(error) => return failure(error),
    };
    let jar = jar
        .remove(state.ui.cookie(SIGN_IN_COOKIE, String::new(), 0))
        .add(
            state
                .ui
                .cookie(SESSION_COOKIE, started.secret, started.max_age),
        );
    (jar, Redirect::to("/")).into_response()
}

pub(crate) async fn sign_out(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    jar: CookieJar,
) -> Response {
    if let Some(cookie) = jar.get(SESSION_COOKIE)
        && let Err(error) = state
            .ops
            .end_session(cookie.value(), &signed_in.actor.source)
            .await
    {
        return failure(error);
    }
    let jar = jar.remove(state.ui.cookie(SESSION_COOKIE, String::new(), 0));
    (jar, done(&state, "/sign-in", "You have signed out.")).into_response()
}
