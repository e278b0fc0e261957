//! `/users`: create, list, read, delete; passwords and roles.

use super::{Acting, Paging};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::{CreateUser, Page};
use authgate_store::{User, UserKind};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    /// A person (the default) signs in with a password; a service acts through keys.
    kind: Option<UserKind>,
    /// Default: `default`.
    #[schema(min_length = 1)]
    tenant: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// Hashed with argon2id at once; never stored or shown in clear.
    #[schema(min_length = 1, max_length = 1024)]
    password: Option<String>,
}

/// A new password; `null` removes it (the user can no longer sign in).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    #[schema(min_length = 1, max_length = 1024)]
    password: Option<String>,
}

/// The roles a user holds from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleList {
    roles: Vec<String>,
}

#[utoipa::path(get, path = "/users", tag = "users", params(Paging),
    responses((status = 200, description = "A page of users, oldest first", body = Page<User>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<User>>, ApiError> {
    Ok(Json(state.ops.list_users(&paging.into()).await?))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "Created", body = User), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Body(new): Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let kind = new.kind.unwrap_or(UserKind::Person);
    let user = state
        .ops
        .create_user(
            &actor,
            CreateUser {
                name: new.name,
                tenant: new.tenant,
                kind,
                roles: new.roles,
                password: new.password,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id or name")),
    responses((status = 200, description = "The user", body = User), Refusals))]
pub(crate) async fn get(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.ops.store().get_user(&id).await?))
}

#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, description = "The user's id or name")),
    responses((status = 204, description = "Deleted"), Refusals))]
pub(crate) async fn delete(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.ops.delete_user(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/users/{id}/password", tag = "users",
    params(("id" = String, Path, description = "The user's id or name")),
    request_body = NewPassword,
    responses((status = 200, description = "The password is set (or removed)", body = User), Refusals))]
pub(crate) async fn set_password(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
    Body(new): Body<NewPassword>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        state
            .ops
            .set_password(&actor, &id, new.password.as_deref())
            .await?,
    ))
}

#[utoipa::path(put, path = "/users/{id}/roles", tag = "users",
    params(("id" = String, Path, description = "The user's id or name")),
    request_body = RoleList,
    responses((status = 200, description = "The user with these roles", body = User), Refusals))]
pub(crate) async fn set_roles(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
    Body(list): Body<RoleList>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        state.ops.set_user_roles(&actor, &id, &list.roles).await?,
    ))
}
