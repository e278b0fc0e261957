//! The token service's grants in SQLite: revoked access tokens, refresh tokens, authorization codes and their families.

use super::{SqliteStore, record_change};
use crate::rows::{digest_from_row, split_list};
use crate::{
    AuthorizationCode, ChangeKind, CodeUse, GrantStore, RefreshTokenRecord, RefreshUse, StoreError,
};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use authgate_core::time::now_unix;
use sqlx::Row;
use sqlx::{Sqlite, Transaction};

#[async_trait]
impl GrantStore for SqliteStore {
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if revoked {
            record_change(&mut tx, ChangeKind::AccessToken, jti).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn create_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, digest, family_id, subject, client_id, scopes, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.id)
        .bind(&token.digest.0[..])
        .bind(&token.family_id)
        .bind(&token.subject)
        .bind(&token.client_id)
        .bind(token.scopes.join(","))
        .bind(token.expires_at)
        .bind(now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_family_token(
        &self,
        family_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM family_access_tokens WHERE expires_at <= ?")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (?, ?, ?)",
        )
        .bind(jti)
        .bind(family_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_refresh_token(
        &self,
        digest: &KeyDigest,
        now: i64,
    ) -> Result<RefreshUse, StoreError> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(
            "SELECT id, digest, family_id, subject, client_id, scopes, expires_at, used_at, revoked_at \
             FROM refresh_tokens WHERE digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(RefreshUse::Unknown);
        };
        let record = RefreshTokenRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            family_id: row.try_get("family_id")?,
            subject: row.try_get("subject")?,
            client_id: row.try_get("client_id")?,
            scopes: split_list(row.try_get("scopes")?),
            expires_at: row.try_get("expires_at")?,
        };
        let used: Option<i64> = row.try_get("used_at")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        if used.is_some() {
            tracing::warn!(
                family = record.family_id,
                "refresh token reused: its family is revoked"
            );
            let revoked = revoke_family(&mut tx, &record.family_id, now).await?;
            tx.commit().await?;
            return Ok(if revoked {
                RefreshUse::Reused
            } else {
                RefreshUse::Refused
            });
        }
        if revoked.is_some() || record.expires_at <= now {
            return Ok(RefreshUse::Refused);
        }
        // Conditional, so that of two concurrent uses only one wins.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&record.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(if won {
            RefreshUse::Fresh(record)
        } else {
            RefreshUse::Refused
        })
    }

    async fn revoke_refresh_token(&self, digest: &KeyDigest) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let family: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE digest = ?")
                .bind(&digest.0[..])
                .fetch_optional(&mut *tx)
                .await?;
        let Some(family) = family else {
            return Ok(false);
        };
        let revoked = revoke_family(&mut tx, &family, now_unix()).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= ?")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (digest, client_id, redirect_uri, subject, scopes, code_challenge, nonce, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&code.digest.0[..])
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.subject)
        .bind(code.scopes.join(","))
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_authorization_code(
        &self,
        digest: &KeyDigest,
        now: i64,
        family_id: &str,
    ) -> Result<CodeUse, StoreError> {
        let mut tx = self.write().await?;
        // Marking it used first means two concurrent exchanges cannot both win.
        let taken = sqlx::query(
            "UPDATE authorization_codes SET used_at = ?, family_id = ? \
             WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(family_id)
        .bind(&digest.0[..])
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !taken {
            let earlier: Option<Option<String>> = sqlx::query_scalar(
                "SELECT family_id FROM authorization_codes WHERE digest = ? AND used_at IS NOT NULL",
            )
            .bind(&digest.0[..])
            .fetch_optional(&mut *tx)
            .await?;
            let Some(Some(family)) = earlier else {
                return Ok(CodeUse::Refused);
            };
            tracing::warn!(family, "authorization code reused: its tokens are revoked");
            let revoked = revoke_family(&mut tx, &family, now).await?;
            tx.commit().await?;
            return Ok(if revoked {
                CodeUse::Reused
            } else {
                CodeUse::Refused
            });
        }
        let row = sqlx::query(
            "SELECT digest, client_id, redirect_uri, subject, scopes, code_challenge, nonce, expires_at \
             FROM authorization_codes WHERE digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CodeUse::Fresh(AuthorizationCode {
            digest: digest_from_row(&row)?,
            client_id: row.try_get("client_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            subject: row.try_get("subject")?,
            scopes: split_list(row.try_get("scopes")?),
            code_challenge: row.try_get("code_challenge")?,
            nonce: row.try_get("nonce")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}

/// Revokes a grant family: its refresh tokens, and the access tokens issued within it that have
/// not expired yet. Whether anything was not revoked before (only then is it a change).
pub(super) async fn revoke_family(
    tx: &mut Transaction<'_, Sqlite>,
    family_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let refresh = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let access = sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) \
         SELECT jti, expires_at, ? FROM family_access_tokens WHERE family_id = ? AND expires_at > ? \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(now)
    .bind(family_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let revoked = refresh + access > 0;
    if revoked {
        record_change(tx, ChangeKind::TokenFamily, family_id).await?;
    }
    Ok(revoked)
}
