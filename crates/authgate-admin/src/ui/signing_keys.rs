//! The token service's signing keys: list and rotate.

use super::view::{ConfirmPage, Layout, SigningKeyRow, SigningKeysPage, When};
use super::{SignedIn, done, failure, render};
use crate::AdminState;
use authgate_core::time::now_unix;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

pub(crate) async fn page(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let keys = match state.ops.store().list_signing_keys().await {
        Ok(keys) => keys,
        Err(error) => return failure(error.into()),
    };
    let now = now_unix();
    let rows = keys
        .into_iter()
        .map(|key| SigningKeyRow {
            purpose: key.purpose.as_str().to_owned(),
            status: key.status,
            created: When::of(Some(key.created_at), now),
            publish_until: When::of(key.publish_until, now),
            alg: key.alg,
            kid: key.kid,
        })
        .collect();
    let page = SigningKeysPage {
        layout: Layout::new(&signed_in, "signing-keys"),
        rows,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn confirm(Extension(signed_in): Extension<SignedIn>) -> Response {
    let page = ConfirmPage {
        layout: Layout::new(&signed_in, "signing-keys"),
        title: "Rotate the signing keys?".into(),
        message: "New keys sign tokens from now on. Tokens already issued stay valid: the old keys stay published until those tokens expire.".into(),
        action: "/signing-keys/rotate".into(),
        button: "Rotate".into(),
        danger: false,
        back: "/signing-keys".into(),
        type_name: None,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn rotate(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    match state
        .ops
        .rotate_signing_keys(&signed_in.actor, None, None)
        .await
    {
        Ok(keys) => {
            let kids: Vec<&str> = keys.iter().map(|key| key.kid.as_str()).collect();
            done(
                &state,
                "/signing-keys",
                &format!("Signing keys rotated; new keys: {}.", kids.join(", ")),
            )
        }
        Err(error) => failure(error),
    }
}
