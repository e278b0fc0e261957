//! The command line of SPEC §1, as clap types. Parsing only: commands/ does the work.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "authgate",
    version,
    about = "Authentication and authorization gateway for HTTP APIs"
)]
pub(crate) struct Args {
    /// Configuration file (default: ./authgate.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Output format of commands that print a result.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the gateway and admin listeners until SIGINT/SIGTERM, then drain in-flight requests.
    Serve,
    /// Apply store migrations.
    Migrate,
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Applications.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Keys of applications.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// People and service users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Explain what the gateway would decide for a request, forwarding nothing (exit 0: allowed).
    Check {
        #[arg(long, default_value = "GET")]
        method: String,
        /// The path, with its query string if any.
        #[arg(long)]
        path: String,
        /// A request header `Name: value` (repeatable).
        #[arg(long = "header", value_name = "'NAME: VALUE'")]
        headers: Vec<String>,
    },
    /// Custom roles (RBAC); `admin` and `viewer` are built in.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Token-signing keys of the token service.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(SigningKeysCommand),
    /// The audit log: every change made from the CLI, the admin API and the web UI.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Admin tokens: what the admin API accepts as `Authorization: Bearer`.
    #[command(subcommand, name = "admin-tokens")]
    AdminTokens(AdminTokensCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminTokensCommand {
    /// Create an admin token for a user with the admin role; the secret is printed once.
    Create {
        /// The user (name or id) the token acts as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// List admin tokens (never the secret).
    List,
    /// Revoke an admin token: it fails from its next request.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List entries, newest first.
    List {
        /// Only changes by this actor (a user, or the operating-system user of the CLI).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (`application.suspend`, `key.create`, ...).
        #[arg(long)]
        action: Option<String>,
        /// Only changes to this target (an id, or a user's or role's name).
        #[arg(long)]
        target: Option<String>,
        /// Only entries since: RFC 3339, Unix seconds, or a span ago (`1h`).
        #[arg(long)]
        since: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = authgate_ops::DEFAULT_PAGE)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SigningKeysCommand {
    /// Make new keys sign tokens; the old ones stay published until their tokens expire.
    Rotate {
        /// Which key to replace; default: both.
        #[arg(long = "for", value_name = "TOKENS")]
        purpose: Option<KeyPurpose>,
        /// `ES256`, `RS256` or `EdDSA` (with --for); default: `[oidc] signing_alg` for access
        /// tokens, `[oidc] id_token_signing_alg` for ID tokens.
        #[arg(long)]
        alg: Option<String>,
    },
    /// List signing keys (never the private key).
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration and print the effective result.
    Check {
        /// The file to check (default: --config, ./authgate.toml, or the defaults).
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyPurpose {
    /// The key that signs access tokens.
    AccessTokens,
    /// The key that signs OpenID Connect ID tokens.
    IdTokens,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Each key is identifier and secret at once.
    ApiKey,
    /// A public app_id plus 1 to 5 app_keys.
    AppIdKey,
    /// The app_id alone.
    AppId,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Create an application and print its id.
    Create {
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// The user the application acts for.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_enum, default_value_t = Mode::ApiKey)]
        mode: Mode,
        /// A role of the application's own (repeatable); without one it acts with its owner's.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Where authorization codes may be sent for it (repeatable; matched exactly).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
    },
    /// List applications.
    List,
    /// Show one application.
    Show { id: String },
    /// Refuse every credential of an application (running gateways: within a second).
    Suspend { id: String },
    /// Accept an application's credentials again.
    Resume { id: String },
    /// Delete an application and its keys.
    Delete { id: String },
    /// Usage of an application per minute: allowed, denied by reason, status classes.
    Usage {
        id: String,
        /// Start of the window: RFC 3339, Unix seconds, or a span ago (`2h`); default 24h ago.
        #[arg(long)]
        from: Option<String>,
        /// End of the window, same forms; default now.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key; its secret is printed once, never again.
    Create {
        #[arg(long)]
        app: String,
        #[arg(long)]
        name: Option<String>,
        /// A lifetime (`90d`, `12h`) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
        /// Comma-separated scopes that narrow what the key may do.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// List keys (id and prefix only).
    List {
        #[arg(long)]
        app: Option<String>,
    },
    /// Revoke a key: running gateways refuse it within a second.
    Revoke { id: String },
    /// Give a key a new secret: running gateways refuse the old one within a second.
    Regenerate { id: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a user.
    Create {
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// A role to give the user (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the user's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// A service user: acts through applications and keys, has no password.
        #[arg(long, conflicts_with = "password_stdin")]
        service: bool,
    },
    /// List users.
    List,
    /// Delete a user who owns no application.
    Delete { name: String },
    /// Set a person's password (read from the first line of standard input): how the
    /// first-start `admin` gets one to sign in to the web UI.
    SetPassword { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolesCommand {
    /// Create a role granting permissions `resource:action` (`*` allowed on either side).
    Create {
        name: String,
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// List roles, built-in ones first.
    List,
    /// Delete a custom role and its bindings.
    Delete { name: String },
    /// Give a user a role.
    Bind { user: String, role: String },
}
