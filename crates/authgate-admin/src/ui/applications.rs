//! Applications, their keys and tokens: the list with search, one application's page, and
//! every change with its confirmation.

use super::chart::{Chart, refusals};
use super::forms::{refusal, words};
use super::view::{
    AppRow, ApplicationPage, ApplicationsPage, ConfirmPage, Field, KeyRow, Layout, NewAppForm,
    NewKeyForm, SecretPage, When,
};
use super::{SignedIn, done, error_page, failure, render};
use crate::AdminState;
use authgate_core::time::now_unix;
use authgate_ops::{CreateApp, CreateKey};
use authgate_store::{App, AppMode, Key};
use axum::Extension;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;

/// Applications on one page of the list.
const PER_PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<ListQuery>,
) -> Response {
    list_page(
        &state,
        &signed_in,
        &query,
        NewAppForm::default(),
        StatusCode::OK,
    )
    .await
}

async fn list_page(
    state: &AdminState,
    signed_in: &SignedIn,
    query: &ListQuery,
    form: NewAppForm,
    status: StatusCode,
) -> Response {
    let (apps, keys, usage) = match everything(state).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let needle = query.q.trim().to_lowercase();
    let matching: Vec<App> = apps
        .into_iter()
        .filter(|app| {
            needle.is_empty()
                || app.name.to_lowercase().contains(&needle)
                || app.id.to_lowercase().contains(&needle)
        })
        .collect();
    let total = matching.len();
    let now = now_unix();
    let rows = matching
        .into_iter()
        .skip(query.page * PER_PAGE)
        .take(PER_PAGE)
        .map(|app| {
            let own: Vec<&Key> = keys
                .iter()
                .filter(|key| key.app_id == app.id && key.revoked_at.is_none())
                .collect();
            AppRow {
                keys: own.len(),
                requests: usage.get(&app.id).copied().unwrap_or(0),
                last_used: When::of(own.iter().filter_map(|key| key.last_used_at).max(), now),
                mode: app.mode.as_str().to_owned(),
                owner: app.owner.unwrap_or_else(|| "—".into()),
                suspended: app.suspended,
                name: app.name,
                id: app.id,
            }
        })
        .collect();
    let link = |page: usize| {
        let q: String = url::form_urlencoded::byte_serialize(query.q.as_bytes()).collect();
        format!("/applications?q={q}&page={page}")
    };
    let page = ApplicationsPage {
        layout: Layout::new(signed_in, "applications"),
        query: query.q.clone(),
        rows,
        total,
        previous: (query.page > 0).then(|| link(query.page - 1)),
        next: ((query.page + 1) * PER_PAGE < total).then(|| link(query.page + 1)),
        form,
    };
    render(status, &page)
}

/// Every application, every key, and each application's requests over the last day.
async fn everything(
    state: &AdminState,
) -> Result<(Vec<App>, Vec<Key>, HashMap<String, u64>), Response> {
    let store = state.ops.store();
    let apps = store.list_apps().await.map_err(|e| failure(e.into()))?;
    let keys = store.list_keys(None).await.map_err(|e| failure(e.into()))?;
    let usage = state
        .ops
        .usage_overview(None, None)
        .await
        .map_err(failure)?
        .applications
        .into_iter()
        .map(|app| (app.application, app.requests))
        .collect();
    Ok((apps, keys, usage))
}

#[derive(Deserialize)]
pub(crate) struct NewAppInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    redirect_uris: String,
}

pub(crate) async fn create(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Form(input): Form<NewAppInput>,
) -> Response {
    let mut form = NewAppForm {
        name: Field::of(&input.name),
        mode: Field::of(&input.mode),
        owner: Field::of(&input.owner),
        roles: Field::of(&input.roles),
        redirect_uris: Field::of(&input.redirect_uris),
        other: None,
    };
    let mode = match AppMode::parse(if input.mode.is_empty() {
        "api-key"
    } else {
        &input.mode
    }) {
        Some(mode) => mode,
        None => {
            form.mode.error = Some("Choose one of the modes listed.".into());
            return list_page(
                &state,
                &signed_in,
                &ListQuery::default(),
                form,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let owner = input.owner.trim();
    let new = CreateApp {
        name: input.name.trim().to_owned(),
        tenant: None,
        owner: (!owner.is_empty()).then(|| owner.to_owned()),
        mode,
        roles: words(&input.roles),
        redirect_uris: words(&input.redirect_uris),
    };
    match state.ops.create_app(&signed_in.actor, new).await {
        Ok(app) => done(
            &state,
            &format!("/applications/{}", app.id),
            &format!(
                "Application {} created. Create a key for its clients below.",
                app.name
            ),
        ),
        Err(error) => {
            let NewAppForm {
                name,
                mode,
                owner,
                roles,
                redirect_uris,
                other,
            } = &mut form;
            let mut fields = [
                ("name", name),
                ("mode", mode),
                ("owner", owner),
                ("roles", roles),
                ("redirect_uris", redirect_uris),
            ];
            if let Some(response) = refusal(error, &mut fields, other) {
                return response;
            }
            list_page(
                &state,
                &signed_in,
                &ListQuery::default(),
                form,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

pub(crate) async fn detail(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    detail_page(
        &state,
        &signed_in,
        &id,
        NewKeyForm::default(),
        Field::default(),
        StatusCode::OK,
    )
    .await
}

async fn detail_page(
    state: &AdminState,
    signed_in: &SignedIn,
    id: &str,
    key_form: NewKeyForm,
    token_form: Field,
    status: StatusCode,
) -> Response {
    let store = state.ops.store();
    let app = match store.get_app(id).await {
        Ok(app) => app,
        Err(error) => return failure(error.into()),
    };
    let keys = match store.list_keys(Some(id)).await {
        Ok(keys) => keys,
        Err(error) => return failure(error.into()),
    };
    let now = now_unix();
    let this_minute = now - now.rem_euclid(60);
    let this_hour = now - now.rem_euclid(3600);
    let day_from = this_hour - 23 * 3600;
    let usage = match store.usage(id, day_from, this_minute + 60).await {
        Ok(usage) => usage,
        Err(error) => return failure(error.into()),
    };
    let keys = keys
        .into_iter()
        .map(|key| KeyRow {
            status: key_status(&key, now),
            created: When::of(Some(key.created_at), now),
            expires: When::of(key.expires_at, now),
            last_used: When::of(key.last_used_at, now),
            name: key.name.unwrap_or_default(),
            prefix: key.prefix,
            id: key.id,
        })
        .collect();
    let roles = if app.roles.is_empty() {
        "the owner's".to_owned()
    } else {
        app.roles.join(", ")
    };
    let page = ApplicationPage {
        layout: Layout::new(signed_in, "applications"),
        facts: vec![
            ("Mode", app.mode.as_str().to_owned()),
            ("Owner", app.owner.clone().unwrap_or_else(|| "—".into())),
            ("Roles", roles),
            ("Tenant", app.tenant.clone()),
            ("Redirect URIs", app.redirect_uris.join(" ")),
            ("Created", When::of(Some(app.created_at), now).exact),
        ],
        hour_chart: Chart::new(
            "Last hour, per minute",
            &usage,
            this_minute - 59 * 60,
            60,
            60,
        ),
        day_chart: Chart::new("Last 24 hours, per hour", &usage, day_from, 3600, 24),
        refusals: refusals(&usage),
        id: app.id,
        name: app.name,
        suspended: app.suspended,
        keys,
        key_form,
        token_form,
        tokens_enabled: state.ops.issues_tokens(),
    };
    render(status, &page)
}

fn key_status(key: &Key, now: i64) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

/// The confirmation page of suspend, resume or delete.
pub(crate) async fn confirm(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let app = match state.ops.store().get_app(&id).await {
        Ok(app) => app,
        Err(error) => return failure(error.into()),
    };
    let live_keys = match live_keys(&state, &id).await {
        Ok(count) => count,
        Err(response) => return response,
    };
    confirm_page(&signed_in, &app, &action, live_keys, Field::default())
}

fn confirm_page(
    signed_in: &SignedIn,
    app: &App,
    action: &str,
    live_keys: usize,
    typed: Field,
) -> Response {
    let keys = plural(live_keys, "key");
    let (title, message, button, danger) = match action {
        "suspend" => (
            format!("Suspend application {}?", app.name),
            format!(
                "Its {keys} and its tokens are refused from the next request, until it is resumed."
            ),
            "Suspend",
            true,
        ),
        "resume" => (
            format!("Resume application {}?", app.name),
            format!("Its {keys} and tokens work again from the next request."),
            "Resume",
            false,
        ),
        "delete" => (
            format!("Delete application {}?", app.name),
            format!(
                "The application and its {keys} are deleted for good; clients using them are refused from the next request."
            ),
            "Delete for good",
            true,
        ),
        _ => return error_page(StatusCode::NOT_FOUND, "There is no such action."),
    };
    let page = ConfirmPage {
        layout: Layout::new(signed_in, "applications"),
        title,
        message,
        action: format!("/applications/{}/{action}", app.id),
        button: button.to_owned(),
        danger,
        back: format!("/applications/{}", app.id),
        // Deleting what clients still use asks for its name (GitHub's pattern).
        type_name: (action == "delete" && live_keys > 0).then(|| (app.name.clone(), typed)),
    };
    let status = if page
        .type_name
        .as_ref()
        .is_some_and(|(_, f)| f.error.is_some())
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

async fn live_keys(state: &AdminState, app_id: &str) -> Result<usize, Response> {
    let now = now_unix();
    Ok(state
        .ops
        .store()
        .list_keys(Some(app_id))
        .await
        .map_err(|e| failure(e.into()))?
        .iter()
        .filter(|key| key_status(key, now) == "active")
        .count())
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

pub(crate) async fn suspend(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    set_suspended(&state, &signed_in, &id, true).await
}

pub(crate) async fn resume(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    set_suspended(&state, &signed_in, &id, false).await
}

async fn set_suspended(
    state: &AdminState,
    signed_in: &SignedIn,
    id: &str,
    suspended: bool,
) -> Response {
    let live_keys = match live_keys(state, id).await {
        Ok(count) => count,
        Err(response) => return response,
    };
    match state
        .ops
        .set_app_suspended(&signed_in.actor, id, suspended)
        .await
    {
        Ok(app) => {
            let keys = plural(live_keys, "key");
            let (are, work) = if live_keys == 1 {
                ("is", "works")
            } else {
                ("are", "work")
            };
            let notice = if suspended {
                format!(
                    "Application {} suspended: its {keys} {are} refused from now on.",
                    app.name
                )
            } else {
                format!("Application {} resumed: its {keys} {work} again.", app.name)
            };
            done(state, &format!("/applications/{id}"), &notice)
        }
        Err(error) => failure(error),
    }
}

#[derive(Deserialize)]
pub(crate) struct DeleteInput {
    #[serde(default)]
    confirm_name: String,
}

pub(crate) async fn delete(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(input): Form<DeleteInput>,
) -> Response {
    let app = match state.ops.store().get_app(&id).await {
        Ok(app) => app,
        Err(error) => return failure(error.into()),
    };
    let live_keys = match live_keys(&state, &id).await {
        Ok(count) => count,
        Err(response) => return response,
    };
    if live_keys > 0 && input.confirm_name.trim() != app.name {
        let typed = Field {
            value: input.confirm_name,
            error: Some(format!(
                "Type the application's name, {}, to delete it.",
                app.name
            )),
        };
        return confirm_page(&signed_in, &app, "delete", live_keys, typed);
    }
    match state.ops.delete_app(&signed_in.actor, &id).await {
        Ok(()) => done(
            &state,
            "/applications",
            &format!(
                "Application {} and its {} deleted.",
                app.name,
                plural(live_keys, "key")
            ),
        ),
        Err(error) => failure(error),
    }
}

#[derive(Deserialize)]
pub(crate) struct NewKeyInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    scopes: String,
}

pub(crate) async fn create_key(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(input): Form<NewKeyInput>,
) -> Response {
    let name = input.name.trim();
    let expires = input.expires.trim();
    let new = CreateKey {
        app_id: id.clone(),
        name: (!name.is_empty()).then(|| name.to_owned()),
        expires: (!expires.is_empty()).then(|| expires.to_owned()),
        scopes: words(&input.scopes),
    };
    match state.ops.create_key(&signed_in.actor, new).await {
        Ok(made) => {
            let mut details = vec![("Prefix".to_owned(), format!("{}…", made.item.prefix))];
            if let Some(name) = made.item.name {
                details.push(("Name".into(), name));
            }
            if let Some(expires) = made.item.expires_at {
                details.push(("Expires".into(), When::of(Some(expires), now_unix()).exact));
            }
            secret_page(&signed_in, "Key created", "key", made.secret, details, &id)
        }
        Err(error) => {
            let mut form = NewKeyForm {
                name: Field::of(&input.name),
                expires: Field::of(&input.expires),
                scopes: Field::of(&input.scopes),
                other: None,
            };
            let NewKeyForm {
                name,
                expires,
                scopes,
                other,
            } = &mut form;
            let mut fields = [("name", name), ("expires", expires), ("scopes", scopes)];
            if let Some(response) = refusal(error, &mut fields, other) {
                return response;
            }
            detail_page(
                &state,
                &signed_in,
                &id,
                form,
                Field::default(),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

fn secret_page(
    signed_in: &SignedIn,
    title: &str,
    what: &str,
    secret: String,
    details: Vec<(String, String)>,
    app_id: &str,
) -> Response {
    let page = SecretPage {
        layout: Layout::new(signed_in, "applications"),
        title: title.to_owned(),
        what: what.to_owned(),
        secret,
        details,
        back: format!("/applications/{app_id}"),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(crate) struct TokenInput {
    #[serde(default)]
    scopes: String,
}

pub(crate) async fn issue_token(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(input): Form<TokenInput>,
) -> Response {
    match state
        .ops
        .issue_app_token(&signed_in.actor, &id, &words(&input.scopes))
        .await
    {
        Ok(token) => {
            let details = vec![
                ("Type".to_owned(), token.token_type.to_owned()),
                ("Expires in".into(), format!("{} s", token.expires_in)),
                ("Scope".into(), token.scope),
            ];
            secret_page(
                &signed_in,
                "Access token issued",
                "access token",
                token.access_token,
                details,
                &id,
            )
        }
        Err(error) => {
            let mut field = Field::of(&input.scopes);
            let mut other = None;
            if let Some(response) = refusal(error, &mut [("scopes", &mut field)], &mut other) {
                return response;
            }
            if field.error.is_none() {
                field.error = other;
            }
            detail_page(
                &state,
                &signed_in,
                &id,
                NewKeyForm::default(),
                field,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// A key and its application, found by the key's id.
async fn key_and_app(state: &AdminState, id: &str) -> Result<(Key, App), Response> {
    let store = state.ops.store();
    let key = store.get_key(id).await.map_err(|e| failure(e.into()))?;
    let app = store
        .get_app(&key.app_id)
        .await
        .map_err(|e| failure(e.into()))?;
    Ok((key, app))
}

/// The confirmation page of revoke or regenerate.
pub(crate) async fn confirm_key(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let (key, app) = match key_and_app(&state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (title, message, button) = match action.as_str() {
        "revoke" => (
            format!("Revoke key {}… of application {}?", key.prefix, app.name),
            "Clients using it are refused from the next request. This cannot be undone.".to_owned(),
            "Revoke key",
        ),
        "regenerate" => (
            format!(
                "Regenerate key {}… of application {}?",
                key.prefix, app.name
            ),
            "The key gets a new secret, shown once; the old secret stops working at once."
                .to_owned(),
            "Regenerate key",
        ),
        _ => return error_page(StatusCode::NOT_FOUND, "There is no such action."),
    };
    let page = ConfirmPage {
        layout: Layout::new(&signed_in, "applications"),
        title,
        message,
        action: format!("/keys/{id}/{action}"),
        button: button.to_owned(),
        danger: true,
        back: format!("/applications/{}", app.id),
        type_name: None,
    };
    render(StatusCode::OK, &page)
}

pub(crate) async fn revoke_key(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let (_, app) = match key_and_app(&state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.ops.revoke_key(&signed_in.actor, &id).await {
        Ok(key) => done(
            &state,
            &format!("/applications/{}", app.id),
            &format!("Key {}… revoked: it is refused from now on.", key.prefix),
        ),
        Err(error) => failure(error),
    }
}

pub(crate) async fn regenerate_key(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let (_, app) = match key_and_app(&state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.ops.regenerate_key(&signed_in.actor, &id).await {
        Ok(made) => {
            let details = vec![("Prefix".to_owned(), format!("{}…", made.item.prefix))];
            secret_page(
                &signed_in,
                "Key regenerated",
                "key",
                made.secret,
                details,
                &app.id,
            )
        }
        Err(error) => failure(error),
    }
}
