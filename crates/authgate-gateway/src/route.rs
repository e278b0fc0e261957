//! The route stage: which configured route a request belongs to.
//!
//! The longest matching `path_prefix` wins, matched on whole path segments (`/api` matches `/api`
//! and `/api/x`, not `/apix`). A path with a `.` or `..` segment is refused with 400 before any
//! route is chosen, so a request can never reach an upstream path outside the route that
//! authenticated it. Puts the matched `Arc<Route>` into the request's context.

use crate::authn::extract::{CredentialLocations, Extractor};
use crate::chain::{Next, stage};
use crate::context::{Outcome, RequestContext};
use crate::limit::RateBucket;
use crate::respond::Rejection;
use crate::thread_copy;
use crate::{Request, Response};
use authgate_config::{AuthKind, ECHO_UPSTREAM, IIIF_DEMO_UPSTREAM, RateLimitConfig, RouteConfig};
use authgate_core::{ErrorCode, Permission};
use http::{HeaderValue, Method, uri::Authority};
use std::sync::Arc;
use std::time::Duration;

/// A route ready to match and forward.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub prefix: String,
    /// `None` accepts every method.
    pub methods: Option<Vec<Method>>,
    pub upstream: Upstream,
    pub strip_prefix: bool,
    pub auth: Vec<AuthKind>,
    pub timeout: Duration,
    /// The bucket this route's requests count against; `None`: not limited.
    pub rate_limit: Option<Arc<RateBucket>>,
    /// What each method requires; `None`: authentication alone is enough.
    permission: Option<RoutePermission>,
    /// Honour `Idempotency-Key` here.
    pub idempotency: bool,
    /// IIIF Authorization Flow 2.0 protects this route (the `iiif` stage shapes its answers).
    pub iiif: bool,
    /// Where credentials this route accepts may be, removed before forwarding (empty when
    /// `hide_credentials` is off).
    pub hidden: CredentialLocations,
    allow: Option<HeaderValue>,
}

/// The permissions a route requires, prepared once.
#[derive(Debug, Clone)]
struct RoutePermission {
    read: Permission,
    write: Permission,
    actions: foldhash::HashMap<Method, Permission>,
}

/// Where a route's requests go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The built-in echo, answered in-process.
    Echo,
    /// The IIIF demo's built-in image service, answered in-process.
    IiifDemo,
    /// An HTTP server: its authority, the `Host` header naming it, and the base path prepended
    /// to forwarded paths.
    Http {
        authority: Authority,
        host: HeaderValue,
        base_path: String,
    },
}

/// All routes, longest prefix first.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Arc<[Arc<Route>]>,
}

impl RouteTable {
    /// Builds the table from validated configuration; routes without a limit of their own
    /// count against `default_limit`.
    pub fn new(configs: &[RouteConfig], default_limit: &RateLimitConfig) -> Result<Self, String> {
        let default_bucket = RateBucket::new("default", default_limit).map(Arc::new);
        let mut routes = configs
            .iter()
            .map(|config| Route::from_config(config, default_bucket.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Ok(Self {
            routes: routes.into_iter().map(Arc::new).collect(),
        })
    }

    /// The same routes, each removing every credential it accepts before forwarding.
    pub fn hiding_credentials(self, extractor: &Extractor) -> Self {
        let routes = self
            .routes
            .iter()
            .map(|route| {
                Arc::new(Route {
                    hidden: extractor.locations(&route.auth),
                    ..Route::clone(route)
                })
            })
            .collect();
        Self { routes }
    }

    /// A copy with routes, buckets and header values of its own, for one worker thread.
    /// Requests clone and drop `Arc<Route>`s and the values in them: with one table for all
    /// workers, every request would move their reference counts between the workers' cores.
    pub fn for_worker(&self) -> Self {
        let mut buckets: Vec<(Arc<RateBucket>, Arc<RateBucket>)> = Vec::new();
        let mut own_bucket = |shared: &Arc<RateBucket>| match buckets
            .iter()
            .find(|(original, _)| Arc::ptr_eq(original, shared))
        {
            Some((_, copy)) => copy.clone(),
            None => {
                let copy = Arc::new(shared.thread_copy());
                buckets.push((shared.clone(), copy.clone()));
                copy
            }
        };
        let routes = self
            .routes
            .iter()
            .map(|route| {
                Arc::new(Route {
                    rate_limit: route.rate_limit.as_ref().map(&mut own_bucket),
                    upstream: match &route.upstream {
                        Upstream::Echo => Upstream::Echo,
                        Upstream::IiifDemo => Upstream::IiifDemo,
                        Upstream::Http {
                            authority,
                            host,
                            base_path,
                        } => Upstream::Http {
                            authority: thread_copy::authority(authority),
                            host: thread_copy::header_value(host),
                            base_path: base_path.clone(),
                        },
                    },
                    allow: route.allow.as_ref().map(thread_copy::header_value),
                    ..Route::clone(route)
                })
            })
            .collect();
        Self { routes }
    }

    /// The route for this path and method, or the refusal (400, 404 or 405).
    pub fn find(&self, path: &str, method: &Method) -> Result<&Arc<Route>, Rejection> {
        if has_dot_segment(path) {
            return Err(ErrorCode::MalformedRequest.into());
        }
        let route = self
            .routes
            .iter()
            .find(|route| prefix_matches(&route.prefix, path))
            .ok_or_else(|| Rejection::new(ErrorCode::RouteNotFound))?;
        match &route.methods {
            Some(methods) if !methods.contains(method) => {
                let rejection = Rejection::new(ErrorCode::MethodNotAllowed);
                Err(match &route.allow {
                    Some(allow) => rejection.with_header(http::header::ALLOW, allow.clone()),
                    None => rejection,
                })
            }
            _ => Ok(route),
        }
    }
}

impl Route {
    fn from_config(
        config: &RouteConfig,
        default_bucket: Option<&Arc<RateBucket>>,
    ) -> Result<Self, String> {
        let upstream = if config.upstream == ECHO_UPSTREAM {
            Upstream::Echo
        } else if config.upstream == IIIF_DEMO_UPSTREAM {
            Upstream::IiifDemo
        } else {
            let url = url::Url::parse(&config.upstream)
                .map_err(|e| format!("route {}: {e}", config.name))?;
            let host = url.host_str().unwrap_or_default();
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let invalid = |e: &dyn std::fmt::Display| format!("route {}: {e}", config.name);
            Upstream::Http {
                host: HeaderValue::from_str(&authority).map_err(|e| invalid(&e))?,
                authority: authority.parse().map_err(|e| invalid(&e))?,
                base_path: url.path().trim_end_matches('/').to_owned(),
            }
        };
        let methods = if config.methods.is_empty() {
            None
        } else {
            Some(
                config
                    .methods
                    .iter()
                    .map(|m| {
                        Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        let allow = methods.as_ref().and_then(|methods| {
            let list = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            HeaderValue::from_str(&list).ok()
        });
        Ok(Self {
            name: config.name.clone(),
            prefix: config.path_prefix.clone(),
            methods,
            upstream,
            strip_prefix: config.strip_prefix,
            auth: config.auth.clone(),
            timeout: config.timeout.0,
            idempotency: config.idempotency,
            iiif: config.iiif,
            hidden: CredentialLocations::default(),
            rate_limit: match &config.rate_limit {
                Some(own) => RateBucket::new(&format!("route:{}", config.name), own).map(Arc::new),
                None => default_bucket.cloned(),
            },
            permission: config
                .permission
                .as_deref()
                .map(|resource| RoutePermission {
                    read: Permission::new(resource, "read"),
                    write: Permission::new(resource, "write"),
                    actions: config
                        .actions
                        .iter()
                        .filter_map(|(method, action)| {
                            let method =
                                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                            Some((method, Permission::new(resource, action)))
                        })
                        .collect(),
                }),
            allow,
        })
    }

    /// The permission a request with `method` needs on this route, if the route names one.
    pub fn required_permission(&self, method: &Method) -> Option<&Permission> {
        let permission = self.permission.as_ref()?;
        Some(match permission.actions.get(method) {
            Some(action) => action,
            None if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) => {
                &permission.read
            }
            None => &permission.write,
        })
    }

    /// The path to send upstream for a request path that matched this route.
    pub fn upstream_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        let rest = if self.strip_prefix {
            let rest = &path[self.prefix.len().min(path.len())..];
            rest.trim_start_matches('/')
        } else {
            path.trim_start_matches('/')
        };
        match &self.upstream {
            Upstream::Http { base_path, .. } if !base_path.is_empty() => {
                format!("{base_path}/{rest}").into()
            }
            _ if self.strip_prefix || rest.len() + 1 != path.len() => format!("/{rest}").into(),
            _ => path.into(),
        }
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix)
        && (prefix.ends_with('/')
            || path.len() == prefix.len()
            || path.as_bytes()[prefix.len()] == b'/')
}

fn has_dot_segment(path: &str) -> bool {
    const DOT_SEGMENTS: [&str; 6] = [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."];
    path.split('/').any(|segment| {
        DOT_SEGMENTS
            .iter()
            .any(|dot| segment.eq_ignore_ascii_case(dot))
    })
}

/// The stage: matches the route and puts it in the request's context, or answers
/// 400/404/405.
async fn run(table: &RouteTable, mut request: Request, next: Next<'_>) -> Response {
    match table.find(request.uri().path(), request.method()) {
        Ok(route) => {
            let route = route.clone();
            let context = RequestContext::of_mut(&mut request);
            if let Some(trail) = &context.trail {
                trail.note(|t| t.route = Some(route.clone()));
            }
            context.route = Some(route.clone());
            let mut response = next.run(request).await;
            // Metrics label the response with its route.
            Outcome::of_mut(&mut response).route = Some(route);
            response
        }
        Err(rejection) => rejection.into_response(),
    }
}

stage!(RouteTable, run);

#[cfg(test)]
mod tests;
