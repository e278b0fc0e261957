//! `/tenants`: list and create.

use super::{Acting, Paging};
use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::{Body, Params};
use authgate_ops::Page;
use authgate_store::Tenant;
use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    #[schema(min_length = 1)]
    name: String,
}

#[utoipa::path(get, path = "/tenants", tag = "tenants", params(Paging),
    responses((status = 200, description = "A page of tenants, oldest first", body = Page<Tenant>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(paging): Params<Paging>,
) -> Result<Json<Page<Tenant>>, ApiError> {
    Ok(Json(state.ops.list_tenants(&paging.into()).await?))
}

#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, description = "Created", body = Tenant), Refusals))]
pub(crate) async fn create(
    State(state): State<AdminState>,
    actor: Acting,
    Body(new): Body<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let tenant = state.ops.create_tenant(&actor, &new.name).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}
