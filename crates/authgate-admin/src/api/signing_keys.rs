//! `/signing-keys`: list and rotate the token service's signing keys (never a private key).

use super::{Acting, Paging};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::{OpsError, Page};
use authgate_store::{SigningKey, SigningPurpose};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

/// Which keys to replace.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    /// `access-tokens` or `id-tokens`; none: both.
    purpose: Option<String>,
    /// `ES256`, `RS256` or `EdDSA` (with a purpose); none: the configured algorithm.
    alg: Option<String>,
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
    let purpose = rotation
        .purpose
        .as_deref()
        .map(|text| {
            SigningPurpose::parse(text).ok_or_else(|| OpsError::Invalid {
                field: "purpose",
                message: format!("`{text}` is not a purpose: access-tokens or id-tokens"),
            })
        })
        .transpose()?;
    let alg = rotation
        .alg
        .as_deref()
        .map(|text| {
            authgate_config::SigningAlg::parse(text).ok_or_else(|| OpsError::Invalid {
                field: "alg",
                message: format!("`{text}` is not an algorithm: ES256, RS256 or EdDSA"),
            })
        })
        .transpose()?;
    Ok(Json(
        state.ops.rotate_signing_keys(&actor, purpose, alg).await?,
    ))
}
