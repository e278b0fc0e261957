//! IIIF Authorization Flow 2.0 (SPEC §6, `reference/iiif-auth2.md`): the services a IIIF viewer
//! talks to before it shows a protected image, and the demo.
//!
//! - **probe** `GET /iiif/probe/<resource path>`: HTTP 200 with an `AuthProbeResult2` whose
//!   `status` is what a GET of the resource would answer with the presented bearer token.
//! - **access** `GET /iiif/access?origin=`: a sign-in page (profile `active`) that sets the
//!   access cookie once the user has signed in, then closes its window. `POST /iiif/access`
//!   with JSON is the tutorials' login, answering an access token.
//! - **token** `GET /iiif/token?messageId=&origin=`: an HTML page (framed by the viewer) that
//!   posts an `AuthAccessToken2`, or an `AuthAccessTokenError2`, to `origin` only.
//! - **logout** `GET /iiif/logout`: ends the sign-in and every token issued from it.
//! - **demo** `/iiif/demo`: a client page for a bundled image behind a protected route.
//!
//! The cookie is what opens content (an `<img>` cannot send a token); the token only tells the
//! viewer, through the probe, whether the cookie will work. Both are random secrets of the key
//! format (`key::generate`), unrelated to each other; only their digests are stored
//! ([`AccessStore`]). The gateway decides what a probe answers ([`Probe`]): only it knows the
//! routes and who may read them.

mod access;
pub mod demo;
pub mod describe;
pub mod grant;
mod logout;
mod page;
mod probe;
mod token;

use async_trait::async_trait;
use authgate_config::{Config, IiifConfig};
use authgate_core::time::Clock;
use authgate_store::AccessStore;
use authgate_token::PasswordSignIn;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// The access cookie: HttpOnly, SameSite=None, Secure, for the whole host.
pub const ACCESS_COOKIE: &str = "authgate_iiif";
/// How an IIIF access token begins, so that the gateway can tell it from an API key.
pub const TOKEN_PREFIX: &str = "sk_iiif_";
/// Paths the IIIF services answer.
pub const EXACT_PATHS: [&str; 4] = [ACCESS_PATH, TOKEN_PATH, LOGOUT_PATH, demo::PAGE_PATH];
/// Path prefixes the IIIF services answer.
pub const PREFIXES: [&str; 2] = [PROBE_PREFIX, ASSETS_PREFIX];

const ACCESS_PATH: &str = "/iiif/access";
const TOKEN_PATH: &str = "/iiif/token";
const LOGOUT_PATH: &str = "/iiif/logout";
/// A resource's probe is this followed by the resource's path.
const PROBE_PREFIX: &str = "/iiif/probe/";
const ASSETS_PREFIX: &str = "/iiif/assets/";

/// What a probe needs from the gateway.
#[async_trait]
pub trait Probe: Send + Sync + 'static {
    /// The status a GET of the resource at `path` would get with `token` (none: no
    /// `Authorization`), sent from a page on `origin`; `None` when no IIIF route protects
    /// `path`.
    async fn status(&self, path: &str, token: Option<&str>, origin: Option<&str>) -> Option<u16>;
}

/// The IIIF services, as configured. Cheap to clone.
#[derive(Clone)]
pub struct IiifService(Arc<Inner>);

struct Inner {
    /// `server.public_url` without its trailing slash: the services' ids start with it.
    base: String,
    /// Origins token messages may be posted to.
    origins: Vec<String>,
    config: IiifConfig,
    /// The sign-in form's own cookie is Secure when the gateway is reached over https.
    secure_form_cookie: bool,
    store: Arc<dyn AccessStore>,
    sign_in: PasswordSignIn,
    clock: Arc<dyn Clock>,
    /// Told when a sign-in ends, so this instance drops what it cached at once.
    signed_out: Arc<dyn Fn() + Send + Sync>,
}

impl IiifService {
    /// The services; `signed_out` is called after each sign-out.
    pub fn new(
        config: &Config,
        store: Arc<dyn AccessStore>,
        sign_in: PasswordSignIn,
        clock: Arc<dyn Clock>,
        signed_out: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let public_url = config.server.public_url.trim_end_matches('/');
        Self(Arc::new(Inner {
            base: public_url.to_owned(),
            origins: config.iiif.effective_origins(public_url),
            config: config.iiif.clone(),
            secure_form_cookie: public_url.starts_with("https:"),
            store,
            sign_in,
            clock,
            signed_out,
        }))
    }

    /// The services' routes; `probe` decides what the probe answers.
    pub fn router(&self, probe: Arc<dyn Probe>) -> Router {
        let router = Router::new()
            .route(
                ACCESS_PATH,
                get(access::page)
                    .post(access::submit)
                    .options(access::preflight),
            )
            .route(TOKEN_PATH, get(token::message))
            .route(LOGOUT_PATH, get(logout::page))
            .route(
                &format!("{PROBE_PREFIX}{{*resource}}"),
                get(probe::result).options(probe::preflight),
            )
            .route(&format!("{ASSETS_PREFIX}{{file}}"), get(page::asset))
            .with_state(self.clone());
        let router = if self.0.config.demo {
            router.merge(demo::router(self.clone()))
        } else {
            router
        };
        router.layer(axum::Extension(probe))
    }

    /// Whether a page on `origin` may receive tokens.
    fn allows_origin(&self, origin: &str) -> bool {
        self.0.origins.iter().any(|allowed| allowed == origin)
    }

    fn now(&self) -> i64 {
        self.0.clock.now_unix()
    }
}
