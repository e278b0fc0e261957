//! Fetching issuers' discovery documents and JWKS: HTTPS (rustls with the web PKI roots) or
//! plain HTTP, with a timeout and a size bound.

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// How long a fetch may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document accepted.
const MAX_BYTES: usize = 1024 * 1024;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A small JSON GET client.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: Client<Https, Empty<bytes::Bytes>>,
}

impl Fetcher {
    pub(crate) fn new() -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    /// GETs `url` and parses its JSON body.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| format!("{url}: timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let body = tokio::time::timeout(
            TIMEOUT,
            Limited::new(response.into_body(), MAX_BYTES).collect(),
        )
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }
}
