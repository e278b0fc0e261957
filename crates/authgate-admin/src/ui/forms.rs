//! What the UI's forms share: reading lists typed into one field, and putting an operation's
//! refusal beside the field it is about.

use super::failure;
use super::view::Field;
use authgate_ops::OpsError;
use authgate_store::StoreError;
use axum::response::Response;

/// Words typed into one field, separated by commas or white space.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Puts a refusal beside the field it names (or above the form, `other`), to show the form
/// again; a failure that no input caused is answered with its own page instead, returned here.
/// Something the form named that does not exist (a role, an owner) is the input's fault.
pub(crate) fn refusal(
    error: OpsError,
    fields: &mut [(&str, &mut Field)],
    other: &mut Option<String>,
) -> Option<Response> {
    let (field, message) = match error {
        OpsError::Invalid { field, message } => (Some(field), message),
        OpsError::Conflict(message)
        | OpsError::Store(StoreError::Conflict(message) | StoreError::Invalid(message)) => {
            (None, message)
        }
        OpsError::Store(StoreError::NotFound(what)) => (None, format!("there is no {what}")),
        error => return Some(failure(error)),
    };
    let message = sentence(&message);
    match fields.iter_mut().find(|(name, _)| Some(*name) == field) {
        Some((_, slot)) => slot.error = Some(message),
        None => *other = Some(message),
    }
    None
}

/// A message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_spaces() {
        assert_eq!(
            words(" viewer, editor  admin,,"),
            ["viewer", "editor", "admin"]
        );
        assert!(words("  ").is_empty());
    }

    #[test]
    fn a_refusal_lands_beside_its_field_or_above_the_form() {
        let mut name = Field::default();
        let mut other = None;
        let error = OpsError::Invalid {
            field: "name",
            message: "an application needs a name".into(),
        };
        assert!(refusal(error, &mut [("name", &mut name)], &mut other).is_none());
        assert_eq!(name.error.as_deref(), Some("An application needs a name."));
        let error = OpsError::Conflict("the name is taken".into());
        assert!(refusal(error, &mut [("name", &mut name)], &mut other).is_none());
        assert_eq!(other.as_deref(), Some("The name is taken."));
    }
}
