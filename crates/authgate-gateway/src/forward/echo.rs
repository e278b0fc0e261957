//! The built-in echo upstream: answers with JSON describing the request it received (method,
//! path, query, headers, body size), so a newcomer sees exactly what authgate forwards.

use crate::respond::Rejection;
use crate::upload::UploadProgress;
use crate::{Body, Response};
use authgate_core::ErrorCode;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::uri::PathAndQuery;
use http_body_util::BodyExt;
use std::collections::BTreeMap;

pub(super) async fn respond(
    parts: &Parts,
    path_and_query: &PathAndQuery,
    mut body: Body,
    upload: Option<&UploadProgress>,
) -> Response {
    let mut body_size: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => body_size += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => {
                let code = upload
                    .and_then(UploadProgress::client_fault)
                    .unwrap_or(ErrorCode::MalformedRequest);
                return Rejection::new(code).into_response();
            }
        }
    }
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let description = serde_json::json!({
        "upstream": "authgate built-in echo",
        "method": parts.method.as_str(),
        "path": path_and_query.path(),
        "query": path_and_query.query().unwrap_or_default(),
        "headers": headers,
        "body_size": body_size,
    });
    let mut response = Response::new(Body::from(description.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
