//! The pages' templates and what each one shows, already in words: the templates only lay
//! things out (and escape every value).

use super::SignedIn;
use super::chart::Chart;
use askama::Template;
use authgate_core::time::format_rfc3339;

/// What every signed-in page shows around its content.
pub(crate) struct Layout {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) notice: Option<String>,
    /// The navigation entry to mark as the current page.
    pub(crate) section: &'static str,
}

impl Layout {
    pub(crate) fn new(signed_in: &SignedIn, section: &'static str) -> Self {
        Self {
            user: signed_in.session.user.clone(),
            csrf: signed_in.session.csrf_token.clone(),
            notice: signed_in.notice.clone(),
            section,
        }
    }

    /// `aria-current` for the navigation entry of `section`.
    pub(crate) fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A moment for people: "3 min ago", with the exact UTC time for the title attribute.
pub(crate) struct When {
    pub(crate) ago: String,
    pub(crate) exact: String,
}

impl When {
    pub(crate) fn of(at: Option<i64>, now: i64) -> Self {
        let Some(at) = at else {
            return Self {
                ago: "never".into(),
                exact: String::new(),
            };
        };
        let delta = now - at;
        let ago = match delta.abs() {
            0..60 => "just now".to_owned(),
            60..3600 => format!("{} min", delta.abs() / 60),
            3600..86_400 => format!("{} h", delta.abs() / 3600),
            _ => format!("{} d", delta.abs() / 86_400),
        };
        let ago = match (delta, ago.as_str()) {
            (_, "just now") => ago,
            (d, _) if d >= 0 => format!("{ago} ago"),
            _ => format!("in {ago}"),
        };
        Self {
            ago,
            exact: format_rfc3339(at),
        }
    }
}

/// A form field's value and the error beside it.
#[derive(Default)]
pub(crate) struct Field {
    pub(crate) value: String,
    pub(crate) error: Option<String>,
}

impl Field {
    pub(crate) fn of(value: &str) -> Self {
        Self {
            value: value.to_owned(),
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    pub(crate) csrf: String,
    pub(crate) username: String,
    pub(crate) error: Option<String>,
    pub(crate) notice: Option<String>,
}

/// A confirmation before a change that cannot be taken back lightly.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub(crate) layout: Layout,
    pub(crate) title: String,
    /// What will happen, in a sentence or two.
    pub(crate) message: String,
    pub(crate) action: String,
    pub(crate) button: String,
    pub(crate) danger: bool,
    pub(crate) back: String,
    /// The name the operator must type to confirm, with any error about it.
    pub(crate) type_name: Option<(String, Field)>,
}

/// A secret made just now: shown once.
#[derive(Template)]
#[template(path = "secret.html")]
pub(crate) struct SecretPage {
    pub(crate) layout: Layout,
    pub(crate) title: String,
    pub(crate) what: String,
    pub(crate) secret: String,
    pub(crate) details: Vec<(String, String)>,
    pub(crate) back: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub(crate) struct DashboardPage {
    pub(crate) layout: Layout,
    pub(crate) hour: Totals,
    pub(crate) day: Totals,
    pub(crate) hour_chart: Chart,
    pub(crate) day_chart: Chart,
    pub(crate) refusals: Vec<(String, u64)>,
    pub(crate) busiest: Vec<(String, String, u64, u64)>,
    /// Each route's allowed and denied requests over the last day, busiest first.
    pub(crate) routes: Vec<(String, u64, u64)>,
    pub(crate) expiring_keys: Vec<(String, String, String, When)>,
    pub(crate) old_signing_keys: Vec<(String, String, When)>,
}

/// Allowed and denied requests over a window.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) allowed: u64,
    pub(crate) denied: u64,
}

pub(crate) struct AppRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) suspended: bool,
    pub(crate) mode: String,
    pub(crate) owner: String,
    pub(crate) keys: usize,
    pub(crate) requests: u64,
    pub(crate) last_used: When,
}

#[derive(Template)]
#[template(path = "applications.html")]
pub(crate) struct ApplicationsPage {
    pub(crate) layout: Layout,
    pub(crate) query: String,
    pub(crate) rows: Vec<AppRow>,
    pub(crate) total: usize,
    pub(crate) previous: Option<String>,
    pub(crate) next: Option<String>,
    pub(crate) form: NewAppForm,
}

#[derive(Default)]
pub(crate) struct NewAppForm {
    pub(crate) name: Field,
    pub(crate) mode: Field,
    pub(crate) owner: Field,
    pub(crate) roles: Field,
    pub(crate) redirect_uris: Field,
    pub(crate) other: Option<String>,
}

pub(crate) struct KeyRow {
    pub(crate) id: String,
    pub(crate) prefix: String,
    pub(crate) name: String,
    pub(crate) created: When,
    pub(crate) expires: When,
    pub(crate) last_used: When,
    pub(crate) status: &'static str,
}

#[derive(Template)]
#[template(path = "application.html")]
pub(crate) struct ApplicationPage {
    pub(crate) layout: Layout,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) suspended: bool,
    pub(crate) facts: Vec<(&'static str, String)>,
    pub(crate) keys: Vec<KeyRow>,
    pub(crate) hour_chart: Chart,
    pub(crate) day_chart: Chart,
    pub(crate) refusals: Vec<(String, u64)>,
    pub(crate) key_form: NewKeyForm,
    pub(crate) token_form: Field,
    pub(crate) tokens_enabled: bool,
}

#[derive(Default)]
pub(crate) struct NewKeyForm {
    pub(crate) name: Field,
    pub(crate) expires: Field,
    pub(crate) scopes: Field,
    pub(crate) other: Option<String>,
}

pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) tenant: String,
    pub(crate) roles: String,
    pub(crate) created: When,
}

#[derive(Template)]
#[template(path = "users.html")]
pub(crate) struct UsersPage {
    pub(crate) layout: Layout,
    pub(crate) rows: Vec<UserRow>,
    /// A refused change of one user's roles: the user's id, the roles typed, and why.
    pub(crate) roles_error: Option<(String, String, String)>,
    pub(crate) roles: Vec<String>,
    pub(crate) form: NewUserForm,
}

#[derive(Default)]
pub(crate) struct NewUserForm {
    pub(crate) name: Field,
    pub(crate) kind: Field,
    pub(crate) roles: Field,
    pub(crate) password: Field,
    pub(crate) other: Option<String>,
}

pub(crate) struct RoleRow {
    pub(crate) name: String,
    pub(crate) permissions: String,
    pub(crate) built_in: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
pub(crate) struct RolesPage {
    pub(crate) layout: Layout,
    pub(crate) rows: Vec<RoleRow>,
    pub(crate) name: Field,
    pub(crate) permissions: Field,
}

pub(crate) struct SigningKeyRow {
    pub(crate) kid: String,
    pub(crate) purpose: String,
    pub(crate) alg: String,
    pub(crate) status: &'static str,
    pub(crate) created: When,
    pub(crate) publish_until: When,
}

#[derive(Template)]
#[template(path = "signing_keys.html")]
pub(crate) struct SigningKeysPage {
    pub(crate) layout: Layout,
    pub(crate) rows: Vec<SigningKeyRow>,
}

pub(crate) struct AuditRow {
    pub(crate) at: When,
    pub(crate) actor: String,
    pub(crate) source: String,
    pub(crate) action: String,
    pub(crate) target: String,
    pub(crate) details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    pub(crate) layout: Layout,
    pub(crate) actor: Field,
    pub(crate) action: Field,
    pub(crate) target_type: Field,
    pub(crate) since: Field,
    pub(crate) rows: Vec<AuditRow>,
    pub(crate) older: Option<String>,
}
