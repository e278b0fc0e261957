//! Users and roles.

use super::forms::{refusal, words};
use super::view::{
    ConfirmPage, Field, Layout, NewUserForm, RoleRow, RolesPage, UserRow, UsersPage, When,
};
use super::{SignedIn, done, failure, render};
use crate::AdminState;
use authgate_core::permission::BUILTIN_ROLES;
use authgate_core::time::now_unix;
use authgate_ops::CreateUser;
use authgate_store::UserKind;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use http::StatusCode;
use serde::Deserialize;

pub(crate) async fn users(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    users_page(
        &state,
        &signed_in,
        NewUserForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn users_page(
    state: &AdminState,
    signed_in: &SignedIn,
    form: NewUserForm,
    roles_error: Option<(String, String, String)>,
    status: StatusCode,
) -> Response {
    let users = match state.ops.store().list_users().await {
        Ok(users) => users,
        Err(error) => return failure(error.into()),
    };
    let roles = match state.ops.all_roles().await {
        Ok(roles) => roles.into_iter().map(|role| role.name).collect(),
        Err(error) => return failure(error),
    };
    let now = now_unix();
    let rows = users
        .into_iter()
        .map(|user| UserRow {
            kind: user.kind.as_str().to_owned(),
            tenant: user.tenant,
            roles: user.roles.join(" "),
            created: When::of(Some(user.created_at), now),
            name: user.name,
            id: user.id,
        })
        .collect();
    let page = UsersPage {
        layout: Layout::new(signed_in, "users"),
        rows,
        roles_error,
        roles,
        form,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub(crate) struct NewUserInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn create_user(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Form(input): Form<NewUserInput>,
) -> Response {
    let kind = if input.kind == "service" {
        UserKind::Service
    } else {
        UserKind::Person
    };
    let new = CreateUser {
        name: input.name.trim().to_owned(),
        tenant: None,
        kind,
        roles: words(&input.roles),
        password: (!input.password.is_empty()).then(|| input.password.clone()),
    };
    match state.ops.create_user(&signed_in.actor, new).await {
        Ok(user) => done(&state, "/users", &format!("User {} created.", user.name)),
        Err(error) => {
            // The password is never sent back into the page.
            let mut form = NewUserForm {
                name: Field::of(&input.name),
                kind: Field::of(&input.kind),
                roles: Field::of(&input.roles),
                password: Field::default(),
                other: None,
            };
            let NewUserForm {
                name,
                roles,
                password,
                other,
                ..
            } = &mut form;
            let mut fields = [("name", name), ("roles", roles), ("password", password)];
            if let Some(response) = refusal(error, &mut fields, other) {
                return response;
            }
            users_page(&state, &signed_in, form, None, StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct RolesInput {
    #[serde(default)]
    roles: String,
}

pub(crate) async fn set_roles(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(input): Form<RolesInput>,
) -> Response {
    match state
        .ops
        .set_user_roles(&signed_in.actor, &id, &words(&input.roles))
        .await
    {
        Ok(user) => done(
            &state,
            "/users",
            &format!("Roles of {} set to: {}.", user.name, role_list(&user.roles)),
        ),
        Err(error) => {
            let mut field = Field::of(&input.roles);
            let mut other = None;
            if let Some(response) = refusal(error, &mut [("roles", &mut field)], &mut other) {
                return response;
            }
            let message = field.error.or(other).unwrap_or_default();
            let refused = Some((id, input.roles, message));
            users_page(
                &state,
                &signed_in,
                NewUserForm::default(),
                refused,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

fn role_list(roles: &[String]) -> String {
    if roles.is_empty() {
        "none".into()
    } else {
        roles.join(", ")
    }
}

pub(crate) async fn confirm_delete(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let user = match state.ops.store().get_user(&id).await {
        Ok(user) => user,
        Err(error) => return failure(error.into()),
    };
    let page = ConfirmPage {
        layout: Layout::new(&signed_in, "users"),
        title: format!("Delete user {}?", user.name),
        message: "The user can no longer sign in, and their sessions end. Applications they own lose their owner's roles.".into(),
        action: format!("/users/{}/delete", user.id),
        button: "Delete user".into(),
        danger: true,
        back: "/users".into(),
        type_name: None,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn delete_user(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let user = match state.ops.store().get_user(&id).await {
        Ok(user) => user,
        Err(error) => return failure(error.into()),
    };
    match state.ops.delete_user(&signed_in.actor, &id).await {
        Ok(()) => done(&state, "/users", &format!("User {} deleted.", user.name)),
        Err(error) => failure(error),
    }
}

pub(crate) async fn roles(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    roles_page(
        &state,
        &signed_in,
        Field::default(),
        Field::default(),
        StatusCode::OK,
    )
    .await
}

async fn roles_page(
    state: &AdminState,
    signed_in: &SignedIn,
    name: Field,
    permissions: Field,
    status: StatusCode,
) -> Response {
    let roles = match state.ops.all_roles().await {
        Ok(roles) => roles,
        Err(error) => return failure(error),
    };
    let rows = roles
        .into_iter()
        .map(|role| RoleRow {
            built_in: BUILTIN_ROLES.contains(&role.name.as_str()),
            permissions: role.permissions.join(" "),
            name: role.name,
        })
        .collect();
    let page = RolesPage {
        layout: Layout::new(signed_in, "roles"),
        rows,
        name,
        permissions,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub(crate) struct NewRoleInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    permissions: String,
}

pub(crate) async fn create_role(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Form(input): Form<NewRoleInput>,
) -> Response {
    let name = input.name.trim();
    match state
        .ops
        .create_role(&signed_in.actor, name, &words(&input.permissions))
        .await
    {
        Ok(role) => done(
            &state,
            "/roles",
            &format!(
                "Role {} created: {}.",
                role.name,
                role.permissions.join(" ")
            ),
        ),
        Err(error) => {
            let mut name = Field::of(&input.name);
            let mut permissions = Field::of(&input.permissions);
            let mut other = None;
            let mut fields = [("name", &mut name), ("permissions", &mut permissions)];
            if let Some(response) = refusal(error, &mut fields, &mut other) {
                return response;
            }
            if other.is_some() {
                name.error = other;
            }
            roles_page(
                &state,
                &signed_in,
                name,
                permissions,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

pub(crate) async fn confirm_delete_role(
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Response {
    let page = ConfirmPage {
        layout: Layout::new(&signed_in, "roles"),
        title: format!("Delete role {name}?"),
        message: "Users and applications holding it lose its permissions from their next request."
            .into(),
        action: format!("/roles/{name}/delete"),
        button: "Delete role".into(),
        danger: true,
        back: "/roles".into(),
        type_name: None,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn delete_role(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(name): Path<String>,
) -> Response {
    match state.ops.delete_role(&signed_in.actor, &name).await {
        Ok(()) => done(&state, "/roles", &format!("Role {name} deleted.")),
        Err(error) => failure(error),
    }
}
