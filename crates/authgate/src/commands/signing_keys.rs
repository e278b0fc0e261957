//! `authgate signing-keys ...`: keys are listed by id, purpose and algorithm; private keys never
//! leave.

use crate::cli::{KeyPurpose, Output, SigningKeysCommand};
use crate::output::{print, table, time};
use anyhow::anyhow;
use authgate_config::SigningAlg;
use authgate_ops::{Operations, cli_actor};
use authgate_store::{SigningKey, SigningPurpose};

pub(super) async fn run(
    ops: &Operations,
    command: SigningKeysCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        SigningKeysCommand::Rotate { purpose, alg } => {
            let purpose = purpose.map(|purpose| match purpose {
                KeyPurpose::AccessTokens => SigningPurpose::AccessTokens,
                KeyPurpose::IdTokens => SigningPurpose::IdTokens,
            });
            let alg = alg
                .as_deref()
                .map(|name| {
                    SigningAlg::parse(name)
                        .ok_or_else(|| anyhow!("--alg `{name}`: expected ES256, RS256 or EdDSA"))
                })
                .transpose()?;
            let rotated = ops.rotate_signing_keys(&cli_actor(), purpose, alg).await?;
            print(output, &rotated, || {
                rotated
                    .iter()
                    .map(|key| key.kid.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SigningKeysCommand::List => {
            let keys = ops.store().list_signing_keys().await?;
            print(output, &keys, || {
                table(
                    &[
                        "KID",
                        "FOR",
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
        key.purpose.to_string(),
        key.alg.clone(),
        key.status.to_owned(),
        time(Some(key.created_at)),
        time(key.retired_at),
        time(key.publish_until),
    ]
}
