//! `/roles`: the built-in roles and custom ones; create and delete custom roles.

use super::{Acting, Paging, Permission};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::Page;
use authgate_store::Role;
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// A new custom role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRole {
    /// Letters, digits, `-`, `_` and `.`.
    #[schema(pattern = "^[A-Za-z0-9._-]+$")]
    name: String,
    /// At least one.
    #[schema(inline, value_type = Vec<Permission>, min_items = 1)]
    permissions: Vec<String>,
}

#[utoipa::path(get, path = "/roles", tag = "roles", params(Paging),
    responses((status = 200, description = "A page of roles by name; built-in ones have created_at 0", body = Page<Role>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<Role>>, ApiError> {
    Ok(Json(state.ops.list_roles(&paging.into()).await?))
}

#[utoipa::path(post, path = "/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, description = "Created", body = Role), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Body(new): Body<NewRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = state
        .ops
        .create_role(&actor, &new.name, &new.permissions)
        .await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// The permissions a custom role grants from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolePermissions {
    /// At least one.
    #[schema(inline, value_type = Vec<Permission>, min_items = 1)]
    permissions: Vec<String>,
}

#[utoipa::path(put, path = "/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "The custom role's name")),
    request_body = RolePermissions,
    responses((status = 200, description = "The role with these permissions; its holders act with them at once", body = Role), Refusals))]
pub(crate) async fn set_permissions(
    State(state): State<AdminState>,
    actor: Acting,
    Path(name): Path<String>,
    Body(body): Body<RolePermissions>,
) -> Result<Json<Role>, ApiError> {
    Ok(Json(
        state
            .ops
            .set_role_permissions(&actor, &name, &body.permissions)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "The custom role's name")),
    responses((status = 204, description = "Deleted, with every binding of it"), Refusals))]
pub(crate) async fn delete(
    State(state): State<AdminState>,
    actor: Acting,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.ops.delete_role(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
