//! `/applications`: create, list, read, change, delete, suspend, resume; usage; tokens.

use super::usage::Window;
use super::{Acting, Paging, Permission};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_core::time::{now_unix, parse_window};
use authgate_ops::{AppToken, CreateApp, Page};
use authgate_store::{App, AppChanges, AppMode, UsageReport};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApplication {
    #[schema(min_length = 1)]
    name: String,
    /// Default: `api-key`.
    #[serde(default)]
    mode: Option<AppMode>,
    /// The owning user's name or id; its roles are the application's unless it has its own.
    #[serde(default)]
    owner: Option<String>,
    /// Default: `default`.
    #[serde(default)]
    #[schema(min_length = 1)]
    tenant: Option<String>,
    /// The application's own roles.
    #[serde(default)]
    roles: Vec<String>,
    /// Where authorization codes may be sent for it (exact match, no fragment).
    #[serde(default)]
    redirect_uris: Vec<String>,
}

/// Changes to an application; what is left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationChanges {
    #[schema(min_length = 1)]
    name: Option<String>,
    owner: Option<String>,
    roles: Option<Vec<String>>,
    redirect_uris: Option<Vec<String>>,
}

/// What an issued token is narrowed to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// Permissions (`resource:action`); none: whatever the application's roles allow.
    #[serde(default)]
    #[schema(inline, value_type = Vec<Permission>)]
    scopes: Vec<String>,
}

#[utoipa::path(get, path = "/applications", tag = "applications", params(Paging),
    responses((status = 200, description = "A page of applications, oldest first", body = Page<App>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<App>>, ApiError> {
    Ok(Json(state.ops.list_apps(&paging.into()).await?))
}

#[utoipa::path(post, path = "/applications", tag = "applications", request_body = NewApplication,
    responses((status = 201, description = "Created", body = App), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Body(new): Body<NewApplication>,
) -> Result<(StatusCode, Json<App>), ApiError> {
    let mode = new.mode.unwrap_or(AppMode::ApiKey);
    let app = state
        .ops
        .create_app(
            &actor,
            CreateApp {
                name: new.name,
                tenant: new.tenant,
                owner: new.owner,
                mode,
                roles: new.roles,
                redirect_uris: new.redirect_uris,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(get, path = "/applications/{id}", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    responses((status = 200, description = "The application", body = App), Refusals))]
pub(crate) async fn get(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(state.ops.store().get_app(&id).await?))
}

#[utoipa::path(patch, path = "/applications/{id}", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    request_body = ApplicationChanges,
    responses((status = 200, description = "The changed application", body = App), Refusals))]
pub(crate) async fn update(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
    Body(changes): Body<ApplicationChanges>,
) -> Result<Json<App>, ApiError> {
    let changes = AppChanges {
        name: changes.name,
        owner: changes.owner,
        roles: changes.roles,
        redirect_uris: changes.redirect_uris,
    };
    Ok(Json(state.ops.update_app(&actor, &id, changes).await?))
}

#[utoipa::path(delete, path = "/applications/{id}", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    responses((status = 204, description = "Deleted, with every key of it"), Refusals))]
pub(crate) async fn delete(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.ops.delete_app(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/applications/{id}/suspend", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    responses((status = 200, description = "Suspended: its credentials are refused from the next request", body = App), Refusals))]
pub(crate) async fn suspend(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(state.ops.set_app_suspended(&actor, &id, true).await?))
}

#[utoipa::path(post, path = "/applications/{id}/resume", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    responses((status = 200, description = "Resumed", body = App), Refusals))]
pub(crate) async fn resume(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
) -> Result<Json<App>, ApiError> {
    Ok(Json(state.ops.set_app_suspended(&actor, &id, false).await?))
}

#[utoipa::path(get, path = "/applications/{id}/usage", tag = "applications",
    params(("id" = String, Path, description = "The application's id"), Window),
    responses((status = 200, description = "Requests per minute: allowed, denied by reason, by status class", body = UsageReport), Refusals))]
pub(crate) async fn usage(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Params(window): Params<Window>,
) -> Result<Json<UsageReport>, ApiError> {
    let (from, to) = parse_window(window.from.as_deref(), window.to.as_deref(), now_unix())
        .map_err(ApiError::bad_request)?;
    let minutes = state.ops.store().usage(&id, from, to).await?;
    Ok(Json(UsageReport::new(id, from, to, minutes)))
}

#[utoipa::path(post, path = "/applications/{id}/tokens", tag = "applications",
    params(("id" = String, Path, description = "The application's id")),
    request_body = TokenRequest,
    responses((status = 201, description = "An access token for the application, shown this once", body = AppToken), Refusals))]
pub(crate) async fn issue_token(
    State(state): State<AdminState>,
    actor: Acting,
    Path(id): Path<String>,
    Body(request): Body<TokenRequest>,
) -> Result<(StatusCode, Json<AppToken>), ApiError> {
    let token = state
        .ops
        .issue_app_token(&actor, &id, &request.scopes)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}
