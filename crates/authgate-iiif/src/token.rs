//! The access token service (§4): an HTML page the viewer loads in a hidden frame, with
//! `?messageId=&origin=`. It always answers 200 with a page whose script posts one message to
//! the viewer: `AuthAccessToken2` when the browser's access cookie is a live sign-in, or
//! `AuthAccessTokenError2` saying why not. The token goes to `origin` only, and only to an
//! origin allowed to receive tokens and, when the sign-in named one, the origin the access
//! service was opened for.

use crate::describe::TokenError;
use crate::grant::Aspect;
use crate::page::{Framing, TokenPage, render};
use crate::{ACCESS_COOKIE, IiifService};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use http::StatusCode;
use serde_json::Value;

/// Longest `messageId` echoed; anything longer is an invalid request.
const MAX_MESSAGE_ID: usize = 1024;

/// `GET /iiif/token?messageId=&origin=`.
pub(crate) async fn message(
    State(service): State<IiifService>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let mut message_id = None;
    let mut origin = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "messageId" if message_id.is_none() => message_id = Some(value.into_owned()),
            "origin" if origin.is_none() => origin = Some(value.into_owned()),
            _ => {}
        }
    }
    // An error names no secret: it may go wherever the viewer is, even to a malformed origin's
    // stand-in `*`. A token goes to a checked origin only.
    let target = origin
        .as_deref()
        .filter(|origin| is_origin(origin))
        .unwrap_or("*")
        .to_owned();
    let (Some(message_id), Some(origin)) = (message_id, origin) else {
        return page(service.token_error(TokenError::InvalidRequest, ""), target);
    };
    if message_id.len() > MAX_MESSAGE_ID || !is_origin(&origin) {
        return page(service.token_error(TokenError::InvalidRequest, ""), target);
    }
    let message = match service
        .token_for(jar.get(ACCESS_COOKIE).map(|c| c.value()), &origin)
        .await
    {
        Ok((token, expires_in)) => service.token_message(&token, expires_in, &message_id),
        Err(error) => service.token_error(error, &message_id),
    };
    page(message, target)
}

impl IiifService {
    /// A token for the sign-in the cookie stands for, to be posted to `origin`.
    async fn token_for(
        &self,
        cookie: Option<&str>,
        origin: &str,
    ) -> Result<(String, i64), TokenError> {
        if !self.allows_origin(origin) {
            return Err(TokenError::InvalidOrigin);
        }
        let session = self.session(cookie).await.map_err(|aspect| match aspect {
            Aspect::Missing => TokenError::MissingAspect,
            Aspect::Invalid => TokenError::InvalidAspect,
            Aspect::Expired => TokenError::ExpiredAspect,
            Aspect::Unavailable => TokenError::Unavailable,
        })?;
        if session
            .origin
            .as_deref()
            .is_some_and(|opened_for| opened_for != origin)
        {
            return Err(TokenError::InvalidOrigin);
        }
        let issued = self
            .issue_token(&session.session_id, session.expires_at, Some(origin))
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot issue an IIIF token");
                TokenError::Unavailable
            })?;
        Ok((issued.token, issued.expires_in))
    }
}

/// Whether `text` is an origin as browsers write it: `scheme://host[:port]`, nothing more.
pub(crate) fn is_origin(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == text
    })
}

fn page(message: Value, target: String) -> Response {
    let page = TokenPage {
        message: message.to_string(),
        target,
    };
    render(StatusCode::OK, &page, Framing::Anyone)
}
