//! Set-up shared by the gateway's unit and integration tests and its benches (included by path).

use authgate_config::Config;
use authgate_ops::{CreateApp, CreateKey, Operations};
use authgate_store::{Actor, AppMode, SqliteStore};
use std::path::Path;
use std::sync::Arc;

/// The name of the store's file in the directory given to [`store_with_key`].
pub(crate) const STORE_FILE: &str = "gateway.db";

/// A SQLite store in `dir` with one `api-key` application and one key, made through the
/// operations layer as an operator would: the store, the key's secret and its id.
pub(crate) async fn store_with_key(dir: &Path) -> (SqliteStore, String, String) {
    let url = format!("sqlite://{}", dir.join(STORE_FILE).display());
    let store = SqliteStore::open(&url).await.expect("store");
    let ops = Operations::new(Arc::new(store.clone()), &Config::default());
    let app = add_app(&ops, "one-key").await;
    let (secret, key_id) = add_key(&ops, &app).await;
    (store, secret, key_id)
}

/// Who the set-up says made its changes.
pub(crate) fn tester() -> Actor {
    Actor {
        name: "tester".into(),
        source: "test".into(),
        signed_in: false,
    }
}

/// A new `api-key` application named `name`; its id.
pub(crate) async fn add_app(ops: &Operations, name: &str) -> String {
    let app = ops
        .create_app(
            &tester(),
            CreateApp {
                name: name.into(),
                tenant: None,
                owner: None,
                mode: AppMode::ApiKey,
                roles: Vec::new(),
                redirect_uris: Vec::new(),
            },
        )
        .await
        .expect("app");
    app.id
}

/// A new key of the application `app_id`: its secret and id.
pub(crate) async fn add_key(ops: &Operations, app_id: &str) -> (String, String) {
    let created = ops
        .create_key(
            &tester(),
            CreateKey {
                app_id: app_id.into(),
                name: None,
                expires: None,
                scopes: Vec::new(),
            },
        )
        .await
        .expect("key");
    (created.secret, created.item.id)
}
