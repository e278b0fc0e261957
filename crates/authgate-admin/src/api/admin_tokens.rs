//! `/admin-tokens`: list, create (the secret shown once), revoke.

use super::keys::secret_response;
use super::{Acting, Paging};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::{Page, WithSecret};
use authgate_store::AdminToken;
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// Whom a new admin token acts as.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAdminToken {
    /// A user with the `admin` role, by name or id.
    user: String,
}

#[utoipa::path(get, path = "/admin-tokens", tag = "admin tokens", params(Paging),
    responses((status = 200, description = "A page of admin tokens (prefixes, never secrets)", body = Page<AdminToken>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<AdminToken>>, ApiError> {
    Ok(Json(state.ops.list_admin_tokens(&paging.into()).await?))
}

#[utoipa::path(post, path = "/admin-tokens", tag = "admin tokens", request_body = NewAdminToken,
    responses((status = 201, description = "The token with its secret, shown this once", body = WithSecret<AdminToken>), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Body(new): Body<NewAdminToken>,
) -> Result<axum::response::Response, ApiError> {
    let created = state.ops.create_admin_token(&actor, &new.user).await?;
    Ok(secret_response(StatusCode::CREATED, created))
}

#[utoipa::path(delete, path = "/admin-tokens/{id}", tag = "admin tokens",
    params(("id" = String, Path, description = "The admin token's id")),
    responses((status = 200, description = "Revoked: refused from its next request", body = AdminToken), Refusals))]
pub(crate) async fn revoke(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<Json<AdminToken>, ApiError> {
    Ok(Json(state.ops.revoke_admin_token(&actor, &id).await?))
}
