//! Copies for one worker thread that share no memory with their original.
//!
//! Cloning a `Bytes`-backed value (a header value, an authority) shares its buffer and the
//! buffer's reference count. Values cloned on every request, if two workers shared them, would
//! move that count between the workers' cores each time; copies made with these functions do not.

use http::uri::Authority;
use http::{HeaderName, HeaderValue};

pub(crate) fn header_name(name: &HeaderName) -> HeaderName {
    HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone())
}

pub(crate) fn header_value(value: &HeaderValue) -> HeaderValue {
    let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

pub(crate) fn authority(authority: &Authority) -> Authority {
    Authority::try_from(authority.as_str()).unwrap_or_else(|_| authority.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_equal_and_keep_sensitivity() {
        let mut secret = HeaderValue::from_static("x");
        secret.set_sensitive(true);
        let copy = header_value(&secret);
        assert_eq!(copy, secret);
        assert!(copy.is_sensitive());
        let upstream = Authority::from_static("upstream.internal:8080");
        assert_eq!(authority(&upstream), upstream);
    }
}
