//! `GET|POST /oauth/authorize` (RFC 6749 §4.1, OpenID Connect Core §3.1 and §3.3): a sign-in
//! page for the authorization-code flow (`response_type=code`) and the hybrid flow
//! (`code id_token`, answered in the fragment).
//!
//! The client and its redirect URI are checked first: until both are known good, errors are
//! shown on the page and never sent anywhere. PKCE with S256 is required of every client. The
//! form is protected by a double-submit CSRF token (a random value in an HttpOnly, SameSite
//! cookie and in the form, compared in constant time), and failed sign-ins count against the
//! same per-user throttle as the password grant.

use super::token::requested_scopes;
use super::{FormBody, OAuthError, TokenService, form};
use crate::issue::Grant;
use crate::sign_in::SignInError;
use authgate_core::id::new_id;
use authgate_core::time::now_unix;
use authgate_core::{ErrorCode, KeyDigest};
use authgate_store::AuthorizationCode;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use rand::RngCore as _;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;

/// How long an authorization code can be exchanged.
const CODE_TTL: i64 = 60;
/// The CSRF cookie's name.
const CSRF_COOKIE: &str = "authgate_csrf";

/// The authorization request's parameters that the page carries through the form.
const CARRIED: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseType {
    Code,
    /// Hybrid: a code and an ID token, in the fragment.
    CodeIdToken,
}

/// A validated authorization request.
struct AuthorizeRequest {
    response_type: ResponseType,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    fragment: bool,
}

/// Why an authorization request fails: shown on the page (client or redirect URI unknown), or
/// sent back to the client's redirect URI.
enum Refused {
    Page(StatusCode, String),
    Redirect {
        redirect_uri: String,
        fragment: bool,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl TokenService {
    /// The redirect URIs registered for `client_id`; `None` for an unknown or suspended client.
    async fn registered_redirects(&self, client_id: &str) -> Result<Option<Vec<String>>, String> {
        if client_id == self.public_client_id {
            return Ok(Some(self.public_redirect_uris.clone()));
        }
        let unavailable = |_| ErrorCode::StoreUnavailable.message().to_owned();
        match self.store.find_app(client_id).await.map_err(unavailable)? {
            Some(app) if !app.suspended => Ok(Some(
                self.store
                    .redirect_uris(client_id)
                    .await
                    .map_err(unavailable)?,
            )),
            _ => Ok(None),
        }
    }

    /// Checks an authorization request's parameters, the client and redirect URI first.
    async fn authorize_request(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<AuthorizeRequest, Refused> {
        let page = |message: &str| Refused::Page(StatusCode::BAD_REQUEST, message.to_owned());
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("The request names no client (client_id)."))?;
        let registered = self
            .registered_redirects(client_id)
            .await
            .map_err(|message| Refused::Page(StatusCode::SERVICE_UNAVAILABLE, message))?
            .ok_or_else(|| page("The client is unknown or suspended."))?;
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or_else(|| page("The request has no redirect_uri."))?;
        if !registered.contains(redirect_uri) {
            return Err(page(
                "The redirect_uri is not one the client registered (it must match exactly).",
            ));
        }
        let response_type = match params.get("response_type").map(String::as_str) {
            Some("code") => Some(ResponseType::Code),
            Some(types) => {
                let mut parts: Vec<&str> = types.split_ascii_whitespace().collect();
                parts.sort_unstable();
                (parts == ["code", "id_token"]).then_some(ResponseType::CodeIdToken)
            }
            None => None,
        };
        let fragment = match params.get("response_mode").map(String::as_str) {
            Some("fragment") => true,
            Some("query") => false,
            _ => response_type == Some(ResponseType::CodeIdToken),
        };
        let state = params.get("state").cloned();
        let refuse = |error: &'static str, description: &str| Refused::Redirect {
            redirect_uri: redirect_uri.clone(),
            fragment,
            state: state.clone(),
            error,
            description: description.to_owned(),
        };
        let response_type = response_type.ok_or_else(|| {
            refuse(
                "unsupported_response_type",
                "response_type must be `code` or `code id_token`",
            )
        })?;
        if response_type == ResponseType::CodeIdToken && !fragment {
            return Err(refuse(
                "invalid_request",
                "an ID token is never sent in the query: use response_mode=fragment",
            ));
        }
        let code_challenge = params
            .get("code_challenge")
            .filter(|c| c.len() == 43)
            .ok_or_else(|| {
                refuse(
                    "invalid_request",
                    "PKCE is required: code_challenge (S256, 43 characters)",
                )
            })?;
        if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        let scopes = requested_scopes(params)
            .map_err(|_| refuse("invalid_scope", "a requested scope is not known"))?;
        let nonce = params.get("nonce").cloned();
        if response_type == ResponseType::CodeIdToken
            && (nonce.is_none() || !scopes.iter().any(|s| s == "openid"))
        {
            return Err(refuse(
                "invalid_request",
                "the hybrid flow needs the openid scope and a nonce",
            ));
        }
        Ok(AuthorizeRequest {
            response_type,
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            scopes,
            state,
            nonce,
            code_challenge: code_challenge.clone(),
            fragment,
        })
    }
}

/// `GET /oauth/authorize`: the sign-in page, or the refusal.
pub(super) async fn page(
    State(service): State<Arc<TokenService>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match service.authorize_request(&params).await {
        Ok(_) => sign_in_page(&params, None, StatusCode::OK),
        Err(refused) => refused.into_response(),
    }
}

/// `POST /oauth/authorize`: the sign-in form.
pub(super) async fn submit(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let params = match form(&headers, &body) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let cookie = csrf_cookie(&headers);
    let submitted = params.get("csrf").map(String::as_str).unwrap_or_default();
    let csrf_ok = cookie.is_some_and(|cookie| {
        !submitted.is_empty() && bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()))
    });
    if !csrf_ok {
        return Refused::Page(
            StatusCode::FORBIDDEN,
            "The form expired or was not sent from this page; go back and sign in again.".into(),
        )
        .into_response();
    }
    let request = match service.authorize_request(&params).await {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let username = params
        .get("username")
        .map(String::as_str)
        .unwrap_or_default();
    let password = params
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    let user = match service.sign_in.check(username, password).await {
        Ok(user) => user,
        Err(SignInError::LockedOut(_)) => {
            return sign_in_page(
                &params,
                Some("Too many failed sign-ins; wait a minute and try again."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(SignInError::WrongCredentials | SignInError::TooLong) => {
            return sign_in_page(
                &params,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(SignInError::StoreUnavailable) => {
            return OAuthError::temporarily_unavailable().into_response();
        }
    };
    match issue_code(&service, &request, &user).await {
        Ok(location) => {
            tracing::info!(client_id = request.client_id, user = username, "signed in");
            redirect(&location)
        }
        Err(error) => error.into_response(),
    }
}

/// Stores a code for the signed-in `user` and returns where to send the browser.
async fn issue_code(
    service: &TokenService,
    request: &AuthorizeRequest,
    user: &authgate_store::User,
) -> Result<String, OAuthError> {
    let code = random_token();
    service
        .store
        .create_authorization_code(&AuthorizationCode {
            digest: KeyDigest::of(&code),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            subject: user.name.clone(),
            scopes: request.scopes.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            expires_at: now_unix() + CODE_TTL,
        })
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    let mut answer = vec![("code", code.clone())];
    if request.response_type == ResponseType::CodeIdToken {
        let grant = Grant {
            subject: user.name.clone(),
            client_id: request.client_id.clone(),
            scopes: request.scopes.clone(),
            roles: user.roles.clone(),
            tenant: user.tenant.clone(),
        };
        let id_token = service
            .issuer
            .id_token(&grant, request.nonce.clone(), Some(&code))
            .map_err(|e| OAuthError::server_error(e.to_string()))?;
        answer.push(("id_token", id_token));
    }
    if let Some(state) = &request.state {
        answer.push(("state", state.clone()));
    }
    Ok(redirect_target(
        &request.redirect_uri,
        request.fragment,
        &answer,
    ))
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Page(status, message) => message_page(status, &message),
            Self::Redirect {
                redirect_uri,
                fragment,
                state,
                error,
                description,
            } => {
                let mut answer = vec![
                    ("error", error.to_owned()),
                    ("error_description", description),
                ];
                if let Some(state) = state {
                    answer.push(("state", state));
                }
                redirect(&redirect_target(&redirect_uri, fragment, &answer))
            }
        }
    }
}

/// `redirect_uri` with `answer` added to its query, or as its fragment.
fn redirect_target(redirect_uri: &str, fragment: bool, answer: &[(&str, String)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    if fragment {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(answer.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut()
            .extend_pairs(answer.iter().map(|(k, v)| (*k, v.as_str())));
    }
    url.into()
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == CSRF_COOKIE).then(|| value.to_owned())
        })
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The sign-in form, with the request's parameters carried in hidden fields and a fresh CSRF
/// token in the form and in a cookie.
fn sign_in_page(
    params: &HashMap<String, String>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = new_id("csrf");
    let hidden: String = CARRIED
        .iter()
        .chain(["response_mode"].iter())
        .filter_map(|name| {
            params.get(*name).map(|value| {
                format!(
                    r#"<input type="hidden" name="{name}" value="{}">"#,
                    escape(value)
                )
            })
        })
        .collect();
    let client = params
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    let error = error
        .map(|message| format!(r#"<p class="error" role="alert">{}</p>"#, escape(message)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · authgate</title>
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input[type=text],input[type=password]{{width:100%;padding:.4rem}}
button{{margin-top:1rem;padding:.5rem 1.2rem}}.error{{color:#b00020}}</style></head>
<body><h1>Sign in</h1><p><strong>{client}</strong> asks to act for you.</p>{error}
<form method="post" action="/oauth/authorize">{hidden}
<input type="hidden" name="csrf" value="{csrf}">
<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>"#,
        client = escape(client),
    );
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    let cookie = format!("{CSRF_COOKIE}={csrf}; Path=/oauth/authorize; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    secure_page_headers(headers);
    response
}

fn message_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in error · authgate</title></head>\
         <body><h1>This sign-in request cannot be completed</h1><p>{}</p></body></html>",
        escape(message)
    );
    let mut response = (status, Html(body)).into_response();
    secure_page_headers(response.headers_mut());
    response
}

/// No caching, no framing (clickjacking), no scripts.
fn secure_page_headers(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
}

/// Text safe inside HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
