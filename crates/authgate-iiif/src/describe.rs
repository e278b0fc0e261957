//! The JSON the services describe themselves and answer with (IIIF Auth 2.0 §2–§5). User-facing
//! texts are language maps (`{"en": ["..."]}`) in the configured language.

use crate::{ACCESS_PATH, IiifService, LOGOUT_PATH, PROBE_PREFIX, TOKEN_PATH};
use authgate_config::IiifText;
use serde_json::{Value, json};

/// The JSON-LD context of every Auth 2.0 document.
pub const AUTH_CONTEXT: &str = "http://iiif.io/api/auth/2/context.json";

/// The token service's error profiles (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    InvalidRequest,
    InvalidOrigin,
    MissingAspect,
    ExpiredAspect,
    InvalidAspect,
    Unavailable,
}

impl TokenError {
    pub fn profile(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalidRequest",
            Self::InvalidOrigin => "invalidOrigin",
            Self::MissingAspect => "missingAspect",
            Self::ExpiredAspect => "expiredAspect",
            Self::InvalidAspect => "invalidAspect",
            Self::Unavailable => "unavailable",
        }
    }
}

impl IiifService {
    /// A text as a language map.
    fn text(&self, text: &str) -> Value {
        json!({ self.0.config.language.as_str(): [text] })
    }

    /// The probe service of the resource at `path` on the gateway, with the access service
    /// and its token and logout services: what `info.json` and a refusal carry.
    pub fn probe_service(&self, path: &str) -> Value {
        let config = &self.0.config;
        let resource = path.trim_start_matches('/');
        json!({
            "id": format!("{}{PROBE_PREFIX}{resource}", self.0.base),
            "type": "AuthProbeService2",
            "errorHeading": self.text(&config.denied.heading),
            "errorNote": self.text(&config.denied.note),
            "service": [self.access_service()],
        })
    }

    /// The access service (profile `active`) with its token and logout services.
    fn access_service(&self) -> Value {
        let config = &self.0.config;
        let base = &self.0.base;
        json!({
            "id": format!("{base}{ACCESS_PATH}"),
            "type": "AuthAccessService2",
            "profile": "active",
            "label": self.text(&config.label),
            "heading": self.text(&config.heading),
            "note": self.text(&config.note),
            "confirmLabel": self.text(&config.confirm_label),
            "service": [
                {"id": format!("{base}{TOKEN_PATH}"), "type": "AuthAccessTokenService2"},
                {
                    "id": format!("{base}{LOGOUT_PATH}"),
                    "type": "AuthLogoutService2",
                    "label": self.text(&config.logout_label),
                },
            ],
        })
    }

    /// The probe's answer for a resource that would get `status` (§5.2): unless it is a
    /// success, a heading and a note, and the access service to get in through (viewers that
    /// reached the probe without the resource's description still find it).
    pub(crate) fn probe_result(&self, status: u16) -> Value {
        let mut result = json!({
            "@context": AUTH_CONTEXT,
            "type": "AuthProbeResult2",
            "status": status,
        });
        let text = match status {
            200..=299 => None,
            401 => Some(&self.0.config.denied),
            403 => Some(&self.0.config.forbidden),
            _ => Some(&self.0.config.errors.unavailable),
        };
        if let Some(text) = text {
            self.add_text(&mut result, text);
            result["service"] = json!([self.access_service()]);
        }
        result
    }

    /// `AuthAccessToken2` (§4.4).
    pub(crate) fn token_message(&self, token: &str, expires_in: i64, message_id: &str) -> Value {
        json!({
            "@context": AUTH_CONTEXT,
            "type": "AuthAccessToken2",
            "accessToken": token,
            "expiresIn": expires_in,
            "messageId": message_id,
        })
    }

    /// `AuthAccessTokenError2` (§4.5) with the configured texts of its profile.
    pub(crate) fn token_error(&self, error: TokenError, message_id: &str) -> Value {
        let errors = &self.0.config.errors;
        let text = match error {
            TokenError::InvalidRequest => &errors.invalid_request,
            TokenError::InvalidOrigin => &errors.invalid_origin,
            TokenError::MissingAspect => &errors.missing_aspect,
            TokenError::ExpiredAspect => &errors.expired_aspect,
            TokenError::InvalidAspect => &errors.invalid_aspect,
            TokenError::Unavailable => &errors.unavailable,
        };
        let mut message = json!({
            "@context": AUTH_CONTEXT,
            "type": "AuthAccessTokenError2",
            "profile": error.profile(),
            "messageId": message_id,
        });
        self.add_text(&mut message, text);
        message
    }

    fn add_text(&self, document: &mut Value, text: &IiifText) {
        if let Some(fields) = document.as_object_mut() {
            fields.insert("heading".into(), self.text(&text.heading));
            fields.insert("note".into(), self.text(&text.note));
        }
    }
}

/// Adds `service` to a JSON document's `service` list: an `info.json` passed through from the
/// upstream, or a refusal. A document with an `@context` gets the Auth 2.0 context first in it,
/// as §2.1 requires. Returns false, changing nothing, for a document that is not a JSON object.
pub fn add_service(document: &mut Value, service: Value) -> bool {
    let Some(fields) = document.as_object_mut() else {
        return false;
    };
    if let Some(context) = fields.get_mut("@context") {
        let auth = Value::from(AUTH_CONTEXT);
        match context {
            Value::Array(contexts) if !contexts.contains(&auth) => contexts.insert(0, auth),
            Value::Array(_) => {}
            other => *other = Value::Array(vec![auth, other.take()]),
        }
    }
    let services = fields
        .entry("service")
        .or_insert_with(|| Value::Array(Vec::new()));
    match services {
        Value::Array(list) => {
            let id = service.get("id").cloned();
            list.retain(|existing| existing.get("id") != id.as_ref());
            list.push(service);
        }
        other => *other = Value::Array(vec![other.take(), service]),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json_gets_the_probe_and_the_auth_context_first() {
        let mut info = json!({
            "@context": "http://iiif.io/api/image/3/context.json",
            "id": "https://example.org/iiif/abc",
            "type": "ImageService3",
            "service": [{"id": "https://example.org/other", "type": "Other"}],
        });
        let probe = json!({"id": "https://gw/iiif/probe/abc", "type": "AuthProbeService2"});
        assert!(add_service(&mut info, probe.clone()));
        assert_eq!(
            info["@context"],
            json!([AUTH_CONTEXT, "http://iiif.io/api/image/3/context.json"])
        );
        assert_eq!(info["service"][0]["type"], "Other");
        assert_eq!(info["service"][1], probe);

        // Twice changes nothing more: the context is there and the probe replaced.
        assert!(add_service(&mut info, probe.clone()));
        assert_eq!(info["@context"].as_array().map(Vec::len), Some(2));
        assert_eq!(info["service"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_document_without_services_or_context_gets_a_list() {
        let mut refusal = json!({"error": "Unauthorized", "code": "missing_credentials"});
        assert!(add_service(&mut refusal, json!({"id": "p"})));
        assert_eq!(refusal["service"], json!([{"id": "p"}]));
        assert!(refusal.get("@context").is_none());

        let mut single = json!({"service": {"id": "x"}});
        assert!(add_service(&mut single, json!({"id": "p"})));
        assert_eq!(single["service"], json!([{"id": "x"}, {"id": "p"}]));

        assert!(!add_service(&mut json!([1, 2]), json!({"id": "p"})));
    }
}
