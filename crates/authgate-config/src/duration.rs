//! Durations written as people write them in configuration: `30s`, `250ms`, `24h`, `90d`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `std::time::Duration` read from and written as a humantime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map(Duration).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration like \"30s\" or \"24h\" ({e})"
            ))
        })
    }
}
