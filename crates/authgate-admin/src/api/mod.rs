//! The admin API's resources, one module each, collected with their OpenAPI descriptions.

mod admin_tokens;
mod applications;
mod audit;
mod keys;
mod roles;
mod signing_keys;
mod tenants;
mod usage;
mod users;

use crate::AdminState;
use crate::error::{ApiError, ErrorBody};
use authgate_ops::PageRequest;
use authgate_store::Actor;
use http::StatusCode;
use serde::Deserialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "authgate admin API",
        description = "Applications, keys, users, roles, tenants, signing keys, admin tokens and the audit log. Every change is audited. Authenticate with an admin token as `Authorization: Bearer`, or with the web UI's session cookie (`authgate_session`), which must carry the session's CSRF token in `X-CSRF-Token` on every change."
    ),
    servers((url = "/admin/api/v1")),
    modifiers(&AdminToken),
    security(("admin_token" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The `admin_token` security scheme: a bearer token.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub(crate) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(
            applications::get,
            applications::update,
            applications::delete
        ))
        .routes(routes!(applications::suspend))
        .routes(routes!(applications::resume))
        .routes(routes!(applications::usage))
        .routes(routes!(applications::issue_token))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(keys::regenerate))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::delete))
        .routes(routes!(users::set_password))
        .routes(routes!(users::set_roles))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::set_permissions, roles::delete))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(signing_keys::list))
        .routes(routes!(signing_keys::rotate))
        .routes(routes!(admin_tokens::list, admin_tokens::create))
        .routes(routes!(admin_tokens::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(usage::overview))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "The admin API has no such path; its document is at /admin/api/v1/openapi.json.",
            )
        })
}

/// `limit` and `cursor`: which page of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Paging {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

impl From<Paging> for PageRequest {
    fn from(paging: Paging) -> Self {
        Self {
            limit: paging.limit,
            cursor: paging.cursor,
        }
    }
}

/// A permission as requests give it: `resource:action`, either side may be `*`.
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = r"^\s*[A-Za-z0-9._/*-]+:[A-Za-z0-9._/*-]+\s*$",
    example = "tasks:read"
)]
#[allow(dead_code)] // describes a `String` field in the document; never built
pub(crate) struct Permission(String);

/// Who is acting, as `auth::require_admin` found them.
type Acting = axum::Extension<Actor>;
