//! Checks that serde's types cannot express.

use crate::{Config, ConfigError, ECHO_UPSTREAM, IIIF_DEMO_ROUTE, RateLimitConfig, StateBackend};
use std::collections::HashSet;

pub(crate) fn validate(config: &Config, source_name: &str) -> Result<(), ConfigError> {
    let invalid = |key: String, problem: String| ConfigError::Invalid {
        source_name: source_name.to_owned(),
        key,
        problem,
    };
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| config.store.url.starts_with(scheme))
    {
        return Err(invalid(
            "store.url".into(),
            format!(
                "`{}`: expected sqlite://FILE or postgres://USER@HOST/DATABASE",
                config.store.url
            ),
        ));
    }
    if config.state.backend == StateBackend::Redis {
        let parsed = url::Url::parse(&config.state.redis_url).ok();
        if !parsed.is_some_and(|url| {
            matches!(url.scheme(), "redis" | "rediss")
                && url.host_str().is_some_and(|h| !h.is_empty())
        }) {
            return Err(invalid(
                "state.redis_url".into(),
                // Not repeated: it may hold a password.
                "must be a redis://host[:port][/db] or rediss:// URL".into(),
            ));
        }
        if config.state.key_prefix.is_empty()
            || !config
                .state
                .key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(invalid(
                "state.key_prefix".into(),
                "must be letters, digits, - _ or . (and not empty)".into(),
            ));
        }
    }
    if config.auth.key_env.is_empty()
        || !config
            .auth
            .key_env
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    {
        return Err(invalid(
            "auth.key_env".into(),
            "must be letters and digits only".into(),
        ));
    }
    for (i, header) in config.auth.api_key.headers.iter().enumerate() {
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(invalid(
                format!("auth.api_key.headers[{i}]"),
                format!("`{header}` is not a header name"),
            ));
        }
    }
    for (i, entry) in config.server.trusted_proxies.iter().enumerate() {
        if crate::parse_network(entry).is_none() {
            return Err(invalid(
                format!("server.trusted_proxies[{i}]"),
                format!("`{entry}` is neither an IP address nor a CIDR network"),
            ));
        }
    }
    if config.server.max_body_size == 0 {
        return Err(invalid(
            "server.max_body_size".into(),
            "must be greater than 0".into(),
        ));
    }
    check_rate_limit(&config.rate_limit, "rate_limit", source_name)?;
    if let Some(endpoint) = &config.telemetry.otlp_endpoint {
        // Collectors run beside the gateway; this build exports over plain HTTP only.
        let parsed = url::Url::parse(endpoint).ok();
        if parsed.is_none_or(|u| u.scheme() != "http") {
            return Err(invalid(
                "telemetry.otlp_endpoint".into(),
                format!("`{endpoint}` is not an http:// URL (OTLP/HTTP without TLS)"),
            ));
        }
    }
    if config.oidc.enabled && url::Url::parse(&config.server.public_url).is_err() {
        return Err(invalid(
            "server.public_url".into(),
            format!(
                "`{}` is not a URL; the token service's issuer is built from it",
                config.server.public_url
            ),
        ));
    }
    if config.oidc.access_token_ttl.0.as_secs() < 60 {
        return Err(invalid(
            "oidc.access_token_ttl".into(),
            "must be at least 1m".into(),
        ));
    }
    if config.admin.session_idle_timeout.0.as_secs() < 60 {
        return Err(invalid(
            "admin.session_idle_timeout".into(),
            "must be at least 1m".into(),
        ));
    }
    if config.admin.session_lifetime.0 < config.admin.session_idle_timeout.0 {
        return Err(invalid(
            "admin.session_lifetime".into(),
            "must be at least admin.session_idle_timeout".into(),
        ));
    }
    for (i, issuer) in config.auth.oidc.iter().enumerate() {
        let key = |field: &str| format!("auth.oidc[{i}].{field}");
        if url::Url::parse(&issuer.issuer).is_err() {
            return Err(invalid(
                key("issuer"),
                format!("`{}` is not a URL", issuer.issuer),
            ));
        }
        if issuer.algorithms.is_empty() {
            return Err(invalid(
                key("algorithms"),
                "name at least one algorithm".into(),
            ));
        }
        if let Some(bad) = issuer
            .algorithms
            .iter()
            .find(|alg| !crate::EXTERNAL_ALGORITHMS.contains(&alg.as_str()))
        {
            return Err(invalid(
                key("algorithms"),
                format!(
                    "`{bad}` is not allowed; choose from {}",
                    crate::EXTERNAL_ALGORITHMS.join(", ")
                ),
            ));
        }
        if config.oidc.enabled
            && issuer.issuer.trim_end_matches('/') == config.server.public_url.trim_end_matches('/')
        {
            return Err(invalid(
                key("issuer"),
                "is authgate's own issuer (server.public_url); list only other issuers".into(),
            ));
        }
    }
    if config.store.flush_interval.0.is_zero() {
        return Err(invalid(
            "store.flush_interval".into(),
            "must be greater than 0".into(),
        ));
    }
    let lists = &config.authorization.admin_list;
    if let Some(both) = lists
        .admins
        .iter()
        .find(|name| lists.read_only.contains(name))
    {
        return Err(invalid(
            "authorization.admin_list".into(),
            format!("`{both}` is both an admin and read-only; name each user once"),
        ));
    }
    for (i, origin) in config.cors.allow_origins.iter().enumerate() {
        let key = format!("cors.allow_origins[{i}]");
        if origin == "*" {
            if config.cors.allow_credentials {
                return Err(invalid(
                    key,
                    "\"*\" cannot be combined with allow_credentials; list the origins".into(),
                ));
            }
            continue;
        }
        match url::Url::parse(origin) {
            Ok(url) if url.origin().ascii_serialization() == *origin => {}
            _ => {
                return Err(invalid(
                    key,
                    format!("`{origin}` is not an origin like https://app.example.com"),
                ));
            }
        }
    }
    for method in &config.idempotency.methods {
        if http::Method::from_bytes(method.as_bytes()).is_err() {
            return Err(invalid(
                "idempotency.methods".into(),
                format!("`{method}` is not an HTTP method"),
            ));
        }
    }
    let mut static_keys = HashSet::new();
    for (i, entry) in config.auth.static_keys.iter().enumerate() {
        if entry.key.expose().is_empty() || !static_keys.insert(entry.key.expose()) {
            return Err(invalid(
                format!("auth.static_keys[{i}].key"),
                "is empty or used twice".into(),
            ));
        }
        if entry.user.is_empty() {
            return Err(invalid(
                format!("auth.static_keys[{i}].user"),
                "must name a user".into(),
            ));
        }
    }
    check_iiif(config, source_name)?;
    let mut names = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        let key = |field: &str| format!("routes[{i}].{field}");
        if route.name.is_empty() || !names.insert(route.name.as_str()) {
            return Err(invalid(
                key("name"),
                format!("`{}` is empty or used by another route", route.name),
            ));
        }
        if !route.path_prefix.starts_with('/') {
            return Err(invalid(
                key("path_prefix"),
                format!("`{}` must start with /", route.path_prefix),
            ));
        }
        for method in &route.methods {
            if http::Method::from_bytes(method.as_bytes()).is_err() {
                return Err(invalid(
                    key("methods"),
                    format!("`{method}` is not an HTTP method"),
                ));
            }
        }
        if config.iiif.demo && route.name == IIIF_DEMO_ROUTE {
            return Err(invalid(
                key("name"),
                format!(
                    "`{IIIF_DEMO_ROUTE}` is the IIIF demo's route (iiif.demo = false frees it)"
                ),
            ));
        }
        if route.upstream != ECHO_UPSTREAM {
            match url::Url::parse(&route.upstream) {
                Ok(url)
                    if url.scheme() == "http" && url.host().is_some() && url.query().is_none() => {}
                Ok(_) => {
                    return Err(invalid(
                        key("upstream"),
                        format!(
                            "`{}` must be http://host[:port][/base] or {ECHO_UPSTREAM}",
                            route.upstream
                        ),
                    ));
                }
                Err(e) => {
                    return Err(invalid(
                        key("upstream"),
                        format!("`{}`: {e}", route.upstream),
                    ));
                }
            }
        }
        if let Some(limit) = &route.rate_limit {
            check_rate_limit(limit, &key("rate_limit"), source_name)?;
            if limit.rpm.is_none() {
                return Err(invalid(
                    key("rate_limit.rpm"),
                    "a route's own limit needs rpm".into(),
                ));
            }
        }
        if let Some(resource) = &route.permission
            && !is_name(resource)
        {
            return Err(invalid(
                key("permission"),
                format!("`{resource}` must be a resource name (letters, digits, - _ . /)"),
            ));
        }
        for (method, action) in &route.actions {
            if http::Method::from_bytes(method.as_bytes()).is_err() || !is_name(action) {
                return Err(invalid(
                    key("actions"),
                    format!("`{method} = \"{action}\"` is not a method and an action name"),
                ));
            }
            if route.permission.is_none() {
                return Err(invalid(
                    key("actions"),
                    "actions need `permission` on the route".into(),
                ));
            }
        }
        if route.auth.is_empty() {
            return Err(invalid(
                key("auth"),
                "must name at least one credential kind".into(),
            ));
        }
    }
    Ok(())
}

/// `[iiif]`: origins that are origins, lifetimes that leave time to use them, and a public URL
/// to build the services' ids from when anything is protected.
fn check_iiif(config: &Config, source_name: &str) -> Result<(), ConfigError> {
    let invalid = |key: String, problem: String| ConfigError::Invalid {
        source_name: source_name.to_owned(),
        key,
        problem,
    };
    let iiif = &config.iiif;
    for (i, origin) in iiif.allowed_origins.iter().enumerate() {
        let trimmed = origin.trim_end_matches('/');
        let is_origin = url::Url::parse(trimmed).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.origin().ascii_serialization() == trimmed
        });
        if !is_origin {
            return Err(invalid(
                format!("iiif.allowed_origins[{i}]"),
                format!("`{origin}` is not an origin (scheme://host[:port], no path)"),
            ));
        }
    }
    for (key, lifetime) in [
        ("iiif.token_lifetime", iiif.token_lifetime),
        ("iiif.session_lifetime", iiif.session_lifetime),
    ] {
        if lifetime.0.as_secs() < 60 {
            return Err(invalid(key.into(), "must be at least 1m".into()));
        }
    }
    if iiif.language.is_empty() {
        return Err(invalid(
            "iiif.language".into(),
            "must name a language (`en`)".into(),
        ));
    }
    let protects = iiif.demo || config.routes.iter().any(|route| route.iiif);
    if protects && url::Url::parse(&config.server.public_url).is_err() {
        return Err(invalid(
            "server.public_url".into(),
            format!(
                "`{}` is not a URL; the IIIF services' ids are built from it",
                config.server.public_url
            ),
        ));
    }
    Ok(())
}

fn check_rate_limit(
    limit: &RateLimitConfig,
    key: &str,
    source_name: &str,
) -> Result<(), ConfigError> {
    let problem = match (limit.rpm, limit.burst) {
        (Some(0), _) => Some(("rpm", "must be greater than 0")),
        (_, Some(0)) => Some(("burst", "must be greater than 0")),
        (None, Some(_)) => Some(("burst", "needs rpm beside it")),
        _ => None,
    };
    match problem {
        Some((field, problem)) => Err(ConfigError::Invalid {
            source_name: source_name.to_owned(),
            key: format!("{key}.{field}"),
            problem: problem.to_owned(),
        }),
        None => Ok(()),
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}
