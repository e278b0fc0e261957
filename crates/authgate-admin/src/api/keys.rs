//! Keys: `/applications/{id}/keys` to list and create, `/keys/{id}` to revoke and regenerate.
//! A secret is in the response that creates or regenerates it, and nowhere else.

use super::{Acting, Paging, Permission};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::{CreateKey, Page, WithSecret};
use authgate_store::Key;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde::Deserialize;
use utoipa::ToSchema;

/// A new key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: Option<String>,
    /// A lifetime from now (`90d`) or an RFC 3339 time in the future; none: it never expires.
    expires: Option<String>,
    /// Permissions (`resource:action`) the key is narrowed to; none: its application's.
    #[serde(default)]
    #[schema(inline, value_type = Vec<Permission>)]
    scopes: Vec<String>,
}

/// A response carrying a secret: never stored by caches.
pub(crate) fn secret_response<T: serde::Serialize>(
    status: StatusCode,
    body: T,
) -> axum::response::Response {
    (status, [(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

#[utoipa::path(get, path = "/applications/{id}/keys", tag = "keys",
    params(("id" = String, Path, description = "The application's id"), Paging),
    responses((status = 200, description = "A page of the application's keys (prefixes, never secrets)", body = Page<Key>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<Key>>, ApiError> {
    Ok(Json(state.ops.list_keys(Some(&id), &paging.into()).await?))
}

#[utoipa::path(post, path = "/applications/{id}/keys", tag = "keys",
    params(("id" = String, Path, description = "The application's id")),
    request_body = NewKey,
    responses((status = 201, description = "The key with its secret, shown this once", body = WithSecret<Key>), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
    Body(new): Body<NewKey>,
) -> Result<axum::response::Response, ApiError> {
    let created = state
        .ops
        .create_key(
            &actor,
            CreateKey {
                app_id: id,
                name: new.name,
                expires: new.expires,
                scopes: new.scopes,
            },
        )
        .await?;
    Ok(secret_response(StatusCode::CREATED, created))
}

#[utoipa::path(delete, path = "/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "Revoked: refused from the next request", body = Key), Refusals))]
pub(crate) async fn revoke(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<Json<Key>, ApiError> {
    Ok(Json(state.ops.revoke_key(&actor, &id).await?))
}

#[utoipa::path(post, path = "/keys/{id}/regenerate", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "The key with its new secret, shown this once; the old one fails from the next request", body = WithSecret<Key>), Refusals))]
pub(crate) async fn regenerate(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let regenerated = state.ops.regenerate_key(&actor, &id).await?;
    Ok(secret_response(StatusCode::OK, regenerated))
}
