//! Token-signing keys: rotation by operators, and the keys `serve` creates on its first start;
//! and the first start's admin user.

use crate::{Operations, OpsError, entry, system_actor};
use authgate_config::SigningAlg;
use authgate_core::key;
use authgate_store::{Actor, NewCredential, SigningKey, SigningPurpose};
use authgate_token::keys;
use serde_json::json;

impl Operations {
    /// Makes new keys sign tokens of `purpose` (both purposes without one), with `alg` or the
    /// configured algorithm. The keys they replace stay published until their tokens expire.
    pub async fn rotate_signing_keys(
        &self,
        actor: &Actor,
        purpose: Option<SigningPurpose>,
        alg: Option<SigningAlg>,
    ) -> Result<Vec<SigningKey>, OpsError> {
        if alg.is_some() && purpose.is_none() {
            return Err(OpsError::invalid(
                "alg",
                "an algorithm applies to one purpose: name it with --for (access-tokens or id-tokens)",
            ));
        }
        let purposes = match purpose {
            Some(purpose) => vec![purpose],
            None => SigningPurpose::ALL.to_vec(),
        };
        let mut rotated = Vec::with_capacity(purposes.len());
        for purpose in purposes {
            let alg = alg.unwrap_or_else(|| self.configured_alg(purpose));
            rotated.push(self.rotate(actor, purpose, alg).await?);
        }
        Ok(rotated)
    }

    /// Creates a key for each purpose no key signs yet (the first start of `serve`, or the
    /// first after an upgrade); the keys it created.
    pub async fn ensure_signing_keys(&self) -> Result<Vec<SigningKey>, OpsError> {
        let published = self.store.signing_keys().await?;
        let mut created = Vec::new();
        for purpose in SigningPurpose::ALL {
            let signs = published
                .iter()
                .any(|k| k.purpose == purpose && k.retired_at.is_none());
            if !signs {
                let alg = self.configured_alg(purpose);
                created.push(self.rotate(&system_actor(), purpose, alg).await?);
            }
        }
        Ok(created)
    }

    /// On an empty store, creates the `admin` user with one admin token; that token's secret,
    /// to be shown once, or `None` when the store was set up before.
    pub async fn bootstrap_admin(&self) -> Result<Option<String>, OpsError> {
        let token = key::generate("admin");
        let credential = NewCredential {
            digest: token.digest,
            display_prefix: token.display_prefix.clone(),
        };
        let audit = entry(
            &system_actor(),
            "bootstrap",
            "user",
            "admin",
            json!({ "roles": ["admin"], "admin_token_prefix": token.display_prefix }),
        );
        let created = self
            .commit(self.store.bootstrap_admin(&credential, &audit))
            .await?;
        Ok(created.then_some(token.secret))
    }

    async fn rotate(
        &self,
        actor: &Actor,
        purpose: SigningPurpose,
        alg: SigningAlg,
    ) -> Result<SigningKey, OpsError> {
        let key = keys::generate(purpose, alg)?;
        let audit = entry(
            actor,
            "rotate",
            "signing_key",
            &key.kid,
            json!({ "purpose": purpose, "alg": alg.as_str() }),
        );
        let publish_until = keys::publish_retired_until(self.token_ttl());
        self.commit(self.store.rotate_signing_key(key, publish_until, &audit))
            .await
    }

    /// The algorithm `[oidc]` asks for new keys of `purpose`.
    fn configured_alg(&self, purpose: SigningPurpose) -> SigningAlg {
        match purpose {
            SigningPurpose::AccessTokens => self.oidc.signing_alg,
            SigningPurpose::IdTokens => self.oidc.id_token_signing_alg,
        }
    }
}
