//! `authgate check`: the gateway's decision for one request, and why, forwarding nothing. The
//! request runs through the same stages as a proxied one (`Gateway::decide`).

use crate::cli::Output;
use anyhow::{Context as _, bail};
use authgate_config::Config;
use authgate_gateway::Body;
use http_body_util::BodyExt;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Report {
    allowed: bool,
    status: u16,
    /// The error code when denied.
    code: Option<String>,
    route: Option<String>,
    authenticator: Option<&'static str>,
    subject: Option<String>,
    application: Option<String>,
    tenant: Option<String>,
    roles: Vec<String>,
    /// The permission the route required of this method.
    permission: Option<String>,
    rate_limit: Option<RateLimitReport>,
}

#[derive(Serialize)]
struct RateLimitReport {
    bucket: String,
    allowed: bool,
    remaining: u32,
}

pub(super) async fn run(
    config: Config,
    method: &str,
    path: &str,
    headers: &[String],
    output: Output,
) -> anyhow::Result<ExitCode> {
    let store = super::open_store(&config).await?;
    let gateway = super::gateway(&config, store).await?;
    let mut request = http::Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(path);
    for header in headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header `{header}` is not of the form 'Name: value'");
        };
        request = request.header(name.trim(), value.trim());
    }
    let request = request
        .body(Body::empty())
        .with_context(|| format!("`{method} {path}` with these headers is not a valid request"))?;

    let (response, trail) = gateway.decide(request).await;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let caller = trail.caller.as_ref();
    let report = Report {
        allowed: status.is_success(),
        status: status.as_u16(),
        code: error["code"].as_str().map(str::to_owned),
        route: trail
            .route
            .as_ref()
            .map(|route| format!("{} ({})", route.name, route.prefix)),
        authenticator: caller.map(|c| c.method().as_str()),
        subject: caller.map(|c| c.subject().to_owned()),
        application: caller.map(|c| c.application().to_owned()),
        tenant: caller.map(|c| c.tenant().to_owned()),
        roles: caller.map(|c| c.roles().to_vec()).unwrap_or_default(),
        permission: trail
            .required
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| error["required"].as_str().map(str::to_owned)),
        rate_limit: trail.rate.map(|(bucket, decision)| RateLimitReport {
            bucket,
            allowed: decision.allowed,
            remaining: decision.remaining,
        }),
    };
    crate::output::print(output, &report, || text(&report))?;
    Ok(if report.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn text(report: &Report) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let decision = if report.allowed {
        format!("allowed ({})", report.status)
    } else {
        format!("denied ({} {})", report.status, or_none(&report.code))
    };
    let rate = report.rate_limit.as_ref().map_or_else(
        || "not limited".to_owned(),
        |r| {
            format!(
                "bucket {}: {}, {} remaining",
                r.bucket,
                if r.allowed { "within" } else { "over" },
                r.remaining
            )
        },
    );
    [
        format!("decision:      {decision}"),
        format!("route:         {}", or_none(&report.route)),
        format!("authenticator: {}", report.authenticator.unwrap_or("-")),
        format!(
            "identity:      subject={} application={} tenant={}",
            or_none(&report.subject),
            or_none(&report.application),
            or_none(&report.tenant)
        ),
        format!(
            "roles:         {}",
            if report.roles.is_empty() {
                "-".into()
            } else {
                report.roles.join(",")
            }
        ),
        format!(
            "permission:    {}",
            report
                .permission
                .clone()
                .unwrap_or_else(|| "none (authentication only)".into())
        ),
        format!("rate limit:    {rate}"),
    ]
    .join("\n")
}
