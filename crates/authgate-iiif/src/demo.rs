//! The demo (`[iiif] demo`, on by default): a bundled image served by a built-in IIIF Image
//! API 3 level 0 service ([`Images`], the upstream of the protected route `iiif-demo`), and a
//! page at `/iiif/demo` whose script runs the client side of the flow (§7.1): probe → access
//! window → token frame → probe → image.

use crate::IiifService;
use crate::page::{Framing, json_error, render};
use askama::Template;
use authgate_config::IIIF_DEMO_PREFIX;
use authgate_core::ErrorCode;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use serde_json::json;

/// The client page.
pub const PAGE_PATH: &str = "/iiif/demo";
/// The one image's identifier.
const IMAGE: &str = "sample";
/// The sizes offered (level 0 serves only these), largest last, with their bytes.
const SIZES: [(u32, u32, &[u8]); 2] = [
    (512, 384, include_bytes!("../assets/sample-512.jpg")),
    (1024, 768, include_bytes!("../assets/sample.jpg")),
];

pub(crate) fn router(service: IiifService) -> Router {
    Router::new()
        .route(PAGE_PATH, get(page))
        .with_state(service)
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    info: &'a str,
}

/// `GET /iiif/demo`.
async fn page(State(service): State<IiifService>) -> Response {
    let info = format!("{}{IIIF_DEMO_PREFIX}{IMAGE}/info.json", service.0.base);
    render(StatusCode::OK, &DemoPage { info: &info }, Framing::Nobody)
}

/// The built-in image service: `info.json` and the listed sizes of the whole image, as JPEG.
#[derive(Debug, Clone)]
pub struct Images {
    /// The image service's id (`{public_url}/iiif/demo/images/sample`).
    id: String,
}

impl Images {
    pub fn new(public_url: &str) -> Self {
        Self {
            id: format!(
                "{}{IIIF_DEMO_PREFIX}{IMAGE}",
                public_url.trim_end_matches('/')
            ),
        }
    }

    /// The answer to a GET of `path` (below the route's prefix, e.g. `/sample/info.json`).
    pub fn respond(&self, path: &str) -> Response {
        let Some(rest) = path.trim_start_matches('/').strip_prefix(IMAGE) else {
            return json_error(ErrorCode::RouteNotFound);
        };
        match rest {
            "" | "/" => (
                StatusCode::SEE_OTHER,
                [(LOCATION, format!("{}/info.json", self.id))],
            )
                .into_response(),
            "/info.json" => self.info(),
            image => match size_of(image) {
                Some(bytes) => (
                    [
                        (CONTENT_TYPE, "image/jpeg"),
                        (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                        (CACHE_CONTROL, "private, max-age=3600"),
                    ],
                    bytes,
                )
                    .into_response(),
                None => json_error(ErrorCode::RouteNotFound),
            },
        }
    }

    fn info(&self) -> Response {
        let (width, height, _) = SIZES[SIZES.len() - 1];
        let info = json!({
            "@context": "http://iiif.io/api/image/3/context.json",
            "id": self.id,
            "type": "ImageService3",
            "protocol": "http://iiif.io/api/image",
            "profile": "level0",
            "width": width,
            "height": height,
            "sizes": SIZES.iter().map(|(w, h, _)| json!({"width": w, "height": h})).collect::<Vec<_>>(),
        });
        (
            [
                (CONTENT_TYPE, "application/json"),
                (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            info.to_string(),
        )
            .into_response()
    }
}

/// The bytes of an image request for the whole image at a listed size:
/// `/full/{max | w,h | w,}/0/default.jpg`.
fn size_of(request: &str) -> Option<&'static [u8]> {
    let size = request
        .strip_prefix("/full/")?
        .strip_suffix("/0/default.jpg")?;
    if size == "max" {
        return Some(SIZES[SIZES.len() - 1].2);
    }
    let (width, height) = size.split_once(',')?;
    let width: u32 = width.parse().ok()?;
    SIZES
        .iter()
        .find(|(w, h, _)| *w == width && (height.is_empty() || height.parse() == Ok(*h)))
        .map(|(_, _, bytes)| *bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_0_serves_the_listed_sizes_of_the_full_image_only() {
        assert_eq!(
            size_of("/full/max/0/default.jpg").map(<[u8]>::len),
            Some(SIZES[1].2.len())
        );
        assert_eq!(
            size_of("/full/512,384/0/default.jpg").map(<[u8]>::len),
            Some(SIZES[0].2.len())
        );
        assert_eq!(
            size_of("/full/512,/0/default.jpg").map(<[u8]>::len),
            Some(SIZES[0].2.len())
        );
        assert!(size_of("/full/300,200/0/default.jpg").is_none());
        assert!(size_of("/0,0,10,10/max/0/default.jpg").is_none());
        assert!(size_of("/full/max/90/default.jpg").is_none());
        assert!(size_of("/full/max/0/default.png").is_none());
    }
}
