//! The logout service (§6): ends the sign-in the browser's access cookie stands for and every
//! token issued from it, on every instance, and removes the cookie. The viewer opens it in a
//! window of its own.

use crate::access::{access_cookie, notice};
use crate::{ACCESS_COOKIE, IiifService};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::StatusCode;

/// `GET /iiif/logout`.
pub(crate) async fn page(State(service): State<IiifService>, jar: CookieJar) -> Response {
    let cookie = jar
        .get(ACCESS_COOKIE)
        .map(|cookie| cookie.value().to_owned());
    if let Ok(session) = service.session(cookie.as_deref()).await
        && let Err(error) = service.end_session(&session.session_id).await
    {
        tracing::warn!(%error, "cannot end an IIIF session");
        return notice(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not signed out",
            "Signing out is unavailable right now; try again shortly.",
            false,
        );
    }
    let label = &service.0.config.logout_label;
    let jar = jar.remove(access_cookie(String::new(), 0));
    (
        jar,
        notice(StatusCode::OK, label, "You are signed out.", true),
    )
        .into_response()
}
