//! Set-up shared by the gateway's unit and integration tests and its benches (included by path).

use authgate_config::Config;
use authgate_ops::{CreateApp, CreateKey, Operations};
use authgate_store::{Actor, AppMode, SqliteStore};
use std::path::Path;
use std::sync::Arc;

/// The name of the store's file in the directory given to [`store_with_key`].
#[allow(dead_code)] // Not every target that includes this module breaks its store.
pub(crate) const STORE_FILE: &str = "gateway.db";

/// A SQLite store in `dir` with one `api-key` application and one key, made through the
/// operations layer as an operator would: the store, the key's secret and its id.
pub(crate) async fn store_with_key(dir: &Path) -> (SqliteStore, String, String) {
    let url = format!("sqlite://{}", dir.join(STORE_FILE).display());
    let store = SqliteStore::open(&url).await.expect("store");
    let ops = Operations::new(Arc::new(store.clone()), &Config::default());
    let tester = Actor {
        name: "tester".into(),
        source: "test".into(),
        signed_in: false,
    };
    let app = ops
        .create_app(
            &tester,
            CreateApp {
                name: "one-key".into(),
                tenant: None,
                owner: None,
                mode: AppMode::ApiKey,
                roles: Vec::new(),
                redirect_uris: Vec::new(),
            },
        )
        .await
        .expect("app");
    let created = ops
        .create_key(
            &tester,
            CreateKey {
                app_id: app.id,
                name: None,
                expires: None,
                scopes: Vec::new(),
            },
        )
        .await
        .expect("key");
    (store, created.secret, created.item.id)
}
