//! `authgate signing-keys ...`: keys are listed by id and algorithm; private keys never leave.

use crate::cli::{Output, SigningKeysCommand};
use crate::output::{print, table, time};
use anyhow::anyhow;
use authgate_config::{Config, SigningAlg};
use authgate_store::{SigningKey, Store};
use authgate_token::keys;

pub(super) async fn run(
    store: &dyn Store,
    config: &Config,
    command: SigningKeysCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        SigningKeysCommand::Rotate { alg } => {
            let alg = match alg.as_deref() {
                Some(name) => SigningAlg::parse(name)
                    .ok_or_else(|| anyhow!("--alg `{name}`: expected ES256, RS256 or EdDSA"))?,
                None => config.oidc.signing_alg,
            };
            let key = keys::rotate(store, alg, config.oidc.access_token_ttl.0).await?;
            print(output, &key, || key.kid.clone())
        }
        SigningKeysCommand::List => {
            let keys = store.list_signing_keys().await?;
            print(output, &keys, || {
                table(
                    &[
                        "KID",
                        "ALG",
                        "STATUS",
                        "CREATED",
                        "RETIRED",
                        "PUBLISHED UNTIL",
                    ],
                    keys.iter().map(row).collect(),
                )
            })
        }
    }
}

fn row(key: &SigningKey) -> Vec<String> {
    vec![
        key.kid.clone(),
        key.alg.clone(),
        key.status.to_owned(),
        time(Some(key.created_at)),
        time(key.retired_at),
        time(key.publish_until),
    ]
}
