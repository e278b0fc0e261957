//! `/signing-keys`: list and rotate the token service's signing keys (never a private key).

use super::{Acting, Paging};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_config::SigningAlg;
use authgate_ops::Page;
use authgate_store::{SigningKey, SigningPurpose};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

/// Which keys to replace.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    /// None: both.
    purpose: Option<SigningPurpose>,
    /// With a purpose only; none: the configured algorithm.
    alg: Option<SigningAlg>,
}

#[utoipa::path(get, path = "/signing-keys", tag = "signing keys", params(Paging),
    responses((status = 200, description = "A page of signing keys, oldest first", body = Page<SigningKey>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<SigningKey>>, ApiError> {
    Ok(Json(state.ops.list_signing_keys(&paging.into()).await?))
}

#[utoipa::path(post, path = "/signing-keys/rotate", tag = "signing keys", request_body = Rotation,
    responses((status = 200, description = "The new keys; the old ones stay published until their tokens expire", body = Vec<SigningKey>), Refusals))]
pub(crate) async fn rotate(
    State(state): State<AdminState>,
    actor: Acting,
    Body(rotation): Body<Rotation>,
) -> Result<Json<Vec<SigningKey>>, ApiError> {
    Ok(Json(
        state
            .ops
            .rotate_signing_keys(&actor, rotation.purpose, rotation.alg)
            .await?,
    ))
}
