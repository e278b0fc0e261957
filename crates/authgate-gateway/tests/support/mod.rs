//! Set-up shared by the gateway's unit and integration tests and its benches (included by path).

use authgate_core::key;
use authgate_store::{AppMode, DirectoryStore, NewApp, NewCredential, NewKey, SqliteStore};
use std::path::Path;

/// A SQLite store in `dir` with one `api-key` application and one key: the store, the key's
/// secret and its id.
pub(crate) async fn store_with_key(dir: &Path) -> (SqliteStore, String, String) {
    let url = format!("sqlite://{}", dir.join("gateway.db").display());
    let store = SqliteStore::open(&url).await.expect("store");
    let app = store
        .create_app(NewApp {
            name: "one-key".into(),
            tenant: "default".into(),
            owner: None,
            mode: AppMode::ApiKey,
            roles: Vec::new(),
            redirect_uris: Vec::new(),
        })
        .await
        .expect("app");
    let secret = key::generate("test");
    let created = store
        .create_key(NewKey {
            app_id: app.id,
            name: None,
            scopes: Vec::new(),
            expires_at: None,
            credential: NewCredential {
                digest: secret.digest,
                display_prefix: secret.display_prefix.clone(),
            },
        })
        .await
        .expect("key");
    (store, secret.secret, created.id)
}
