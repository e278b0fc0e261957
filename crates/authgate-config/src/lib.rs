//! authgate's configuration (SPEC §2).
//!
//! Raw → validated in one step: [`load`] reads the built-in defaults, then the TOML file, then the
//! `AUTHGATE_<SECTION>__<KEY>` environment overrides, deserializes them into [`Config`] (unknown
//! keys are errors, so a typo never silently does nothing) and checks what types alone cannot
//! (prefixes, upstream URLs, duplicate names). Every error names where the value came from and the
//! key that is wrong.
#![forbid(unsafe_code)]

mod duration;
mod validate;

pub use duration::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "authgate.toml";
/// Prefix of the environment overrides: `AUTHGATE_SERVER__LISTEN=...`.
pub const ENV_PREFIX: &str = "AUTHGATE_";
/// The familiar names for the default rate limit (they win over the file).
const LEGACY_ENV: [(&str, &str); 2] = [
    ("RATE_LIMIT_RPM", "rate_limit.rpm"),
    ("RATE_LIMIT_BURST", "rate_limit.burst"),
];
/// The familiar switch that turns authentication off (`auth.skip`).
const SKIP_AUTH_ENV: &str = "GATEWAY_SKIP_AUTH";
/// The upstream that answers with a description of the request it received.
pub const ECHO_UPSTREAM: &str = "builtin:echo";
/// The demo's IIIF Image API service, built in.
pub const IIIF_DEMO_UPSTREAM: &str = "builtin:iiif-demo";
/// The name of the demo's route.
pub const IIIF_DEMO_ROUTE: &str = "iiif-demo";
/// Where the demo's protected images are.
pub const IIIF_DEMO_PREFIX: &str = "/iiif/demo/images/";

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub state: StateConfig,
    pub auth: AuthConfig,
    /// Who may do what once authenticated.
    pub authorization: AuthorizationConfig,
    /// The limit every application gets on routes without their own.
    pub rate_limit: RateLimitConfig,
    /// Browsers calling the API from other origins.
    pub cors: CorsConfig,
    /// Replaying responses to retried requests that carry an `Idempotency-Key`.
    pub idempotency: IdempotencyConfig,
    /// authgate's own token service (OAuth 2.0 / OpenID Connect).
    pub oidc: OidcConfig,
    /// The web admin UI on the admin listener.
    pub admin: AdminConfig,
    /// IIIF Authorization Flow 2.0 for routes with `iiif = true` (SPEC §6).
    pub iiif: IiifConfig,
    pub log: LogConfig,
    /// Exporting traces to an OpenTelemetry collector.
    pub telemetry: TelemetryConfig,
    /// Routes in any order; the longest matching prefix wins. None configured: `/` to the echo.
    pub routes: Vec<RouteConfig>,
}

/// Listeners and request limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The gateway listener.
    pub listen: SocketAddr,
    /// The admin listener.
    pub admin_listen: SocketAddr,
    /// The URL clients use to reach the gateway.
    pub public_url: String,
    /// How long `serve` waits for in-flight requests after SIGINT/SIGTERM.
    pub drain_timeout: Duration,
    /// Time a client has to send its request headers, from the connection's first moment.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress and none started for this long is closed
    /// (HTTP/1.1 keep-alive and HTTP/2 alike).
    pub idle_timeout: Duration,
    /// Longest wait for the next piece of a request body (408 after it).
    pub body_timeout: Duration,
    /// Open connections the gateway listener keeps at most; past it, idle ones are closed to
    /// make room and new ones wait in the backlog. Clamped to what the open-file limit allows.
    pub max_connections: usize,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_size: u64,
    /// Gateway worker threads, each with its own listener socket (SO_REUSEPORT) and upstream
    /// connection pool; 0 means one per CPU.
    pub workers: usize,
    /// Peers (addresses or CIDR networks) whose `X-Forwarded-*`, `Forwarded` and `X-Real-IP`
    /// are believed and passed on; from anyone else they are replaced.
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// `trusted_proxies` as networks (a lone address is a network of one); entries that do not
    /// parse are refused by validation.
    pub fn trusted_proxy_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|entry| parse_network(entry))
            .collect()
    }
}

fn parse_network(entry: &str) -> Option<ipnet::IpNet> {
    entry.parse::<ipnet::IpNet>().ok().or_else(|| {
        entry
            .parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_url: "http://127.0.0.1:8080".into(),
            drain_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            trusted_proxies: Vec::new(),
            max_body_size: 10 * 1024 * 1024,
            workers: 0,
        }
    }
}

/// Where tenants, users, applications and keys live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://FILE` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
    /// (the database must exist; several instances may share it).
    pub url: String,
    /// How often a running gateway looks for changes made by other processes (CLI, other instances).
    pub change_poll_interval: Duration,
    /// How often counters kept in memory (usage per minute, keys' last use) are written.
    pub flush_interval: Duration,
    /// How long keys verified before the store stopped answering keep working (beyond
    /// `auth.cache_ttl`); unknown keys fail closed (503) meanwhile.
    pub outage_grace: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://authgate.db".into(),
            change_poll_interval: Duration::from_millis(200),
            flush_interval: Duration::from_secs(5),
            outage_grace: Duration::from_secs(300),
        }
    }
}

/// Shared per-request state: rate limits and idempotency records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    pub backend: StateBackend,
    /// The Redis server of `backend = "redis"`: `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` for TLS. Its password is never printed.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub redis_url: String,
    /// What rate limits do while Redis does not answer.
    pub on_error: OnStateError,
    /// What every key authgate writes in Redis starts with, so that deployments sharing one
    /// Redis (staging beside production) keep apart; every instance of one uses the same.
    pub key_prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: StateBackend::Memory,
            redis_url: "redis://127.0.0.1:6379".into(),
            on_error: OnStateError::Open,
            key_prefix: "authgate".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// In this process: right for one instance.
    Memory,
    /// In Redis: shared by every instance that names the same server.
    Redis,
}

/// Rate limits while shared state does not answer. Idempotent requests are refused (503)
/// either way: running one unguarded could run it twice.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnStateError {
    /// Requests pass unlimited: a limiter outage does not become an API outage.
    Open,
    /// Requests on limited routes are refused with 503 `state_unavailable`.
    Closed,
}

/// A URL as `config check` prints it: with `<redacted>` for its password.
fn serialize_redacted_url<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = parsed.set_password(Some("<redacted>"));
            serializer.serialize_str(parsed.as_str())
        }
        _ => serializer.serialize_str(url),
    }
}

/// Where credentials are looked for, and what happens to them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A request with no credential at all passes as `anonymous` (a bad credential is still
    /// 401); what anonymous may do is set under `[authorization]`.
    pub anonymous: bool,
    /// Authentication off: every request is an anonymous admin. For development only; also
    /// `GATEWAY_SKIP_AUTH=1`. authgate warns at start and marks every response.
    pub skip: bool,
    pub api_key: ApiKeyConfig,
    pub app_id_key: AppIdKeyConfig,
    /// Keys written in the configuration, each standing for a user: for deployments without a
    /// store of applications (Weaviate's `AUTHENTICATION_APIKEY_*`).
    pub static_keys: Vec<StaticKeyConfig>,
    /// Remove the credential from the request before it goes upstream.
    pub hide_credentials: bool,
    /// The `<env>` part of generated keys: `sk_<env>_...`.
    pub key_env: String,
    /// How long a verified credential stays in the in-process cache (changes invalidate it sooner).
    pub cache_ttl: Duration,
    /// External OpenID Connect issuers whose access tokens the gateway accepts.
    pub oidc: Vec<ExternalIssuerConfig>,
}

/// An identity provider that is not authgate: its JWTs are verified against its JWKS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    /// Exactly the `iss` of its tokens; discovery is read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The `aud` its tokens must carry for this gateway.
    pub audience: String,
    /// The client id clients use at this issuer (informational, for clients' configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The claim naming the user.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The claim listing the user's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Group → role. Empty: each group is taken as the role of the same name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_roles: BTreeMap<String, String>,
    /// The algorithms accepted from this issuer (never `none` or HMAC).
    #[serde(default = "default_external_algorithms")]
    pub algorithms: Vec<String>,
    /// The JWKS URL, when discovery is not to be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

/// The asymmetric JWS algorithms an external issuer may be allowed.
pub const EXTERNAL_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn default_username_claim() -> String {
    "sub".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_external_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            anonymous: false,
            skip: false,
            api_key: ApiKeyConfig::default(),
            app_id_key: AppIdKeyConfig::default(),
            static_keys: Vec::new(),
            hide_credentials: true,
            key_env: "live".into(),
            cache_ttl: Duration::from_secs(60),
            oidc: Vec::new(),
        }
    }
}

/// A key from the configuration and the user it stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticKeyConfig {
    pub key: Secret,
    pub user: String,
    /// The user's roles under `rbac` (`admin_list` goes by the user's name).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_tenant() -> String {
    "default".into()
}

/// A secret from the configuration: never printed, not even by `config check`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for comparing with what a client presents.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// Where an API key may be found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Headers that carry the key itself.
    pub headers: Vec<String>,
    /// Accept `Authorization: Bearer <key>`.
    pub bearer: bool,
    /// Names looked up in the query string, then as headers (`user_key`).
    pub params: Vec<String>,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        Self {
            headers: vec!["X-API-Key".into()],
            bearer: true,
            params: vec!["user_key".into()],
        }
    }
}

/// Names of the app_id and app_key parameters (query string or header).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AppIdKeyConfig {
    pub app_id: String,
    pub app_key: String,
}

impl Default for AppIdKeyConfig {
    fn default() -> Self {
        Self {
            app_id: "app_id".into(),
            app_key: "app_key".into(),
        }
    }
}

/// How permissions are decided (SPEC §2 `[authorization]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthorizationConfig {
    pub scheme: AuthorizationScheme,
    /// Under `rbac`: the roles an anonymous caller acts with.
    pub anonymous_roles: Vec<String>,
    pub admin_list: AdminListConfig,
}

/// The three schemes users of Weaviate, Kong and 3scale know.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationScheme {
    /// Roles (built-in `admin`, `viewer`, and custom ones) grant permissions.
    #[default]
    Rbac,
    /// Named admins may do everything, read-only users may read.
    AdminList,
    /// Any authenticated caller may do everything.
    Undifferentiated,
}

/// The lists of the `admin_list` scheme, by user name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminListConfig {
    pub admins: Vec<String>,
    pub read_only: Vec<String>,
    /// What an anonymous caller may do under `admin_list`.
    pub anonymous: AnonymousAccess,
}

/// Anonymous callers' rights under `admin_list` (Weaviate's options).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnonymousAccess {
    #[default]
    None,
    ReadOnly,
    Admin,
}

/// A GCRA rate limit per application: `rpm` requests a minute on average, up to `burst` at
/// once (default: `rpm`). No `rpm`: no limit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// authgate's own token service (SPEC §5): issuer = `server.public_url`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Off: no token endpoints, no discovery, and bearer JWTs of authgate's are refused.
    pub enabled: bool,
    /// The built-in public client (no secret) for the password and authorization-code grants.
    pub public_client_id: String,
    /// Where authorization codes may be sent for the public client (matched exactly).
    pub redirect_uris: Vec<String>,
    /// The `aud` of the access tokens authgate issues and accepts.
    pub audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// `ES256`, `RS256` or `EdDSA`: the algorithm of newly created access-token signing keys.
    pub signing_alg: SigningAlg,
    /// The algorithm of newly created ID-token signing keys: RS256 by default, the algorithm
    /// relying parties expect unless they registered another (OIDC Core §15.1).
    pub id_token_signing_alg: SigningAlg,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            public_client_id: "authgate-cli".into(),
            redirect_uris: Vec::new(),
            audience: "authgate".into(),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            signing_alg: SigningAlg::Es256,
            id_token_signing_alg: SigningAlg::Rs256,
        }
    }
}

/// IIIF Authorization Flow 2.0: the texts viewers show, who may receive tokens, how long a
/// sign-in and a token last, and the demo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IiifConfig {
    /// `/iiif/demo`: a protected sample image and a client page that opens it.
    pub demo: bool,
    /// Origins (`scheme://host[:port]`) token messages may be posted to. Empty: the origin of
    /// `server.public_url` alone.
    pub allowed_origins: Vec<String>,
    /// How long an access token is valid (the probe refuses it after).
    pub token_lifetime: Duration,
    /// How long a sign-in at the access service (the access cookie) lasts.
    pub session_lifetime: Duration,
    /// The language of the texts below in the JSON viewers read.
    pub language: String,
    /// The access service's profile. Only `active` (a sign-in page) is provided.
    pub profile: IiifProfile,
    /// Names the institution signed in to (required by the IIIF spec).
    pub label: String,
    /// Shown by the viewer before it opens the access service.
    pub heading: String,
    pub note: String,
    /// The button that opens the access service.
    pub confirm_label: String,
    /// Names the institution signed out of.
    pub logout_label: String,
    /// What the probe says when the viewer is not signed in (status 401).
    pub denied: IiifText,
    /// What the probe says when the signed-in user may not see the resource (status 403).
    pub forbidden: IiifText,
    /// What the token service says with each error profile.
    pub errors: IiifErrorTexts,
}

/// A heading and a note, as viewers show them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IiifText {
    pub heading: String,
    pub note: String,
}

impl IiifText {
    fn new(heading: &str, note: &str) -> Self {
        Self {
            heading: heading.into(),
            note: note.into(),
        }
    }
}

/// The token service's texts, one per error profile of the spec (§4.5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IiifErrorTexts {
    pub invalid_request: IiifText,
    pub invalid_origin: IiifText,
    pub missing_aspect: IiifText,
    pub expired_aspect: IiifText,
    pub invalid_aspect: IiifText,
    pub unavailable: IiifText,
}

impl Default for IiifErrorTexts {
    fn default() -> Self {
        Self {
            invalid_request: IiifText::new(
                "Invalid request",
                "The viewer's request for access was incomplete.",
            ),
            invalid_origin: IiifText::new(
                "Not allowed here",
                "This viewer's site may not receive access to these resources.",
            ),
            missing_aspect: IiifText::new("Not signed in", "Sign in to see this resource."),
            expired_aspect: IiifText::new(
                "Signed out",
                "Your sign-in has expired. Sign in again to see this resource.",
            ),
            invalid_aspect: IiifText::new(
                "Not signed in",
                "Your sign-in is not valid. Sign in again to see this resource.",
            ),
            unavailable: IiifText::new(
                "Unavailable",
                "Access cannot be given right now. Try again later.",
            ),
        }
    }
}

/// The profile of the access service (IIIF Auth 2.0 §3.3).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IiifProfile {
    /// The user signs in on a page the viewer opens.
    Active,
}

impl Default for IiifConfig {
    fn default() -> Self {
        Self {
            demo: true,
            allowed_origins: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(12 * 3600),
            language: "en".into(),
            profile: IiifProfile::Active,
            label: "Sign in to authgate".into(),
            heading: "Please sign in".into(),
            note: "These images are available to signed-in users.".into(),
            confirm_label: "Sign in".into(),
            logout_label: "Sign out of authgate".into(),
            denied: IiifText::new("Sign in required", "Sign in to see this resource."),
            forbidden: IiifText::new("Not allowed", "Your account may not see this resource."),
            errors: IiifErrorTexts::default(),
        }
    }
}

impl IiifConfig {
    /// The origins token messages may be posted to, with the default filled in from the
    /// gateway's public URL.
    pub fn effective_origins(&self, public_url: &str) -> Vec<String> {
        if !self.allowed_origins.is_empty() {
            return self
                .allowed_origins
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect();
        }
        url::Url::parse(public_url)
            .map(|url| vec![url.origin().ascii_serialization()])
            .unwrap_or_default()
    }
}

/// The web admin UI's sessions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// A session unused this long ends.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub session_lifetime: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A JWS algorithm authgate signs with.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
pub enum SigningAlg {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// The JOSE name (`alg` header, JWKS).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

/// `Idempotency-Key` handling (IETF httpapi draft, Stripe's semantics).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long a response is kept for replay.
    pub ttl: Duration,
    /// Methods whose requests honour the header.
    pub methods: Vec<String>,
    /// Largest response body kept, in bytes; larger responses pass through unstored.
    pub max_stored_body: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(24 * 60 * 60),
            methods: vec!["POST".into(), "PATCH".into()],
            max_stored_body: 1024 * 1024,
        }
    }
}

/// CORS: which origins browsers may call the gateway from. No origins: CORS is off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`), or `"*"` for any.
    pub allow_origins: Vec<String>,
    /// Let browsers send cookies and `Authorization` with credentialed requests (not with `"*"`).
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer.
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_credentials: false,
            max_age: Duration::from_secs(600),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `authgate=debug`); `RUST_LOG` wins when set.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// OpenTelemetry export; off unless `otlp_endpoint` is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); spans go to `/v1/traces`.
    /// Plain HTTP: the collector (or its agent) runs beside the gateway.
    pub otlp_endpoint: Option<String>,
    /// `http/protobuf` (the OTLP default) or `http/json`.
    pub otlp_protocol: OtlpProtocol,
    /// The `service.name` resource attribute of exported spans.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::Protobuf,
            service_name: "authgate".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum OtlpProtocol {
    #[serde(rename = "http/protobuf")]
    Protobuf,
    #[serde(rename = "http/json")]
    Json,
}

/// One route: requests under `path_prefix` go to `upstream`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    pub path_prefix: String,
    /// Accepted methods; empty accepts every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// `http://host:port[/base]`, or `builtin:echo`.
    pub upstream: String,
    /// Remove `path_prefix` before forwarding (`/api/v1/tasks` → `/tasks`).
    #[serde(default)]
    pub strip_prefix: bool,
    /// Credential kinds accepted on this route.
    #[serde(default = "default_route_auth")]
    pub auth: Vec<AuthKind>,
    /// How long the upstream may take to start answering (504 after).
    #[serde(default = "default_upstream_timeout")]
    pub timeout: Duration,
    /// This route's own limit, counted apart from the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    /// The resource this route acts on: GET, HEAD and OPTIONS need `<permission>:read`, other
    /// methods `<permission>:write`. None: authentication alone is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Honour `Idempotency-Key` on this route.
    #[serde(default = "default_true")]
    pub idempotency: bool,
    /// Method → action overrides (`DELETE = "delete"` makes DELETE need `<permission>:delete`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, String>,
    /// IIIF Authorization Flow 2.0 protects this route: the access cookie and IIIF access
    /// tokens are accepted, a refusal carries the probe service, and `info.json` gets it too.
    #[serde(default)]
    pub iiif: bool,
}

/// A kind of credential a route accepts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// `X-API-Key`, `Authorization: Bearer`, `user_key`.
    ApiKey,
    /// `app_id` + `app_key`, or `app_id` alone for applications in `app-id` mode.
    AppIdKey,
    /// A JWT access token as `Authorization: Bearer`, from authgate's token service or an
    /// `[[auth.oidc]]` issuer.
    Jwt,
    /// No credential at all: the request passes as `anonymous`.
    Anonymous,
    /// IIIF Authorization Flow 2.0: the access cookie, or an IIIF access token as
    /// `Authorization: Bearer`. Added to every route with `iiif = true`.
    Iiif,
}

impl RouteConfig {
    /// A route to one of the gateway's own upstreams, with every default.
    fn builtin(path_prefix: &str, upstream: &str) -> Self {
        Self {
            name: String::new(),
            path_prefix: path_prefix.into(),
            methods: Vec::new(),
            upstream: upstream.into(),
            strip_prefix: false,
            auth: default_route_auth(),
            timeout: default_upstream_timeout(),
            rate_limit: None,
            permission: None,
            idempotency: true,
            actions: BTreeMap::new(),
            iiif: false,
        }
    }
}

fn default_route_auth() -> Vec<AuthKind> {
    vec![AuthKind::ApiKey, AuthKind::AppIdKey, AuthKind::Jwt]
}

fn default_true() -> bool {
    true
}

fn default_upstream_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Config {
    /// The routes in force: the configured ones, or `/` to the built-in echo.
    pub fn effective_routes(&self) -> Vec<RouteConfig> {
        let mut routes = if self.routes.is_empty() {
            vec![RouteConfig {
                name: "default".into(),
                ..RouteConfig::builtin("/", ECHO_UPSTREAM)
            }]
        } else {
            self.routes.clone()
        };
        if self.iiif.demo {
            routes.push(RouteConfig {
                name: IIIF_DEMO_ROUTE.into(),
                iiif: true,
                methods: vec!["GET".into(), "HEAD".into()],
                strip_prefix: true,
                ..RouteConfig::builtin(IIIF_DEMO_PREFIX, IIIF_DEMO_UPSTREAM)
            });
        }
        for route in &mut routes {
            if route.iiif && !route.auth.contains(&AuthKind::Iiif) {
                route.auth.push(AuthKind::Iiif);
            }
            route.iiif |= route.auth.contains(&AuthKind::Iiif);
        }
        routes
    }

    /// The configuration as TOML, as `config check` prints it.
    pub fn to_toml(&self) -> String {
        let mut effective = self.clone();
        effective.routes = self.effective_routes();
        toml::to_string_pretty(&effective).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// A configuration that cannot be used: where it came from, which key, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("{source_name}: key `{key}`: {problem}")]
    Invalid {
        source_name: String,
        key: String,
        problem: String,
    },
    #[error("{0}: the configuration file does not exist")]
    MissingFile(PathBuf),
}

/// Loads the configuration: `explicit` if given (it must exist), else `./authgate.toml` if it
/// exists, else the defaults; then the environment overrides; then validation.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let file = match explicit {
        Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
    };
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &file {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
    for (name, key) in LEGACY_ENV {
        if let Ok(value) = std::env::var(name) {
            let number: u32 = value.trim().parse().map_err(|_| ConfigError::Invalid {
                source_name: "environment".into(),
                key: name.into(),
                problem: format!("`{value}` is not a whole number"),
            })?;
            figment = figment.merge(Serialized::default(key, number));
        }
    }
    if let Ok(value) = std::env::var(SKIP_AUTH_ENV) {
        let skip = match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" | "enabled" => true,
            "" | "0" | "false" | "off" | "no" | "disabled" => false,
            _ => {
                return Err(ConfigError::Invalid {
                    source_name: "environment".into(),
                    key: SKIP_AUTH_ENV.into(),
                    problem: format!("`{value}` is not 1/0, true/false, on/off or yes/no"),
                });
            }
        };
        figment = figment.merge(Serialized::default("auth.skip", skip));
    }
    let config: Config = figment
        .extract()
        .map_err(|e| ConfigError::Parse(describe(e)))?;
    let source_name = file.map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    validate::validate(&config, &source_name)?;
    Ok(config)
}

/// figment reports every problem; one line each, with the key and the file it came from.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map_or_else(
                    || {
                        e.metadata
                            .as_ref()
                            .map_or("defaults".to_owned(), |m| m.name.to_string())
                    },
                    |s| s.to_string(),
                );
            if key.is_empty() {
                format!("{origin}: {}", e.kind)
            } else {
                format!("{origin}: key `{key}`: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
