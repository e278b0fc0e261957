//! The token service's grants in PostgreSQL: revoked access tokens, refresh tokens, authorization codes and their families.

use super::{PostgresStore, record_change};
use crate::rows::{digest_from_row, split_list};
use crate::{
    AuthorizationCode, ChangeKind, CodeUse, GrantStore, RefreshTokenRecord, RefreshUse, StoreError,
};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use authgate_core::time::now_unix;
use sqlx::Row;
use sqlx::{Postgres, Transaction};

#[async_trait]
impl GrantStore for PostgresStore {
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)")
                .bind(jti)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_unix();
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM family_access_tokens WHERE expires_at <= $1")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3)",
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
        let mut tx = self.pool.begin().await?;
        // Locked until this use commits: a concurrent use of the same token waits, then reads
        // it used, and is a reuse, as it would be one after the other.
        let Some(row) = sqlx::query(
            "SELECT id, digest, family_id, subject, client_id, scopes, expires_at, used_at, revoked_at \
             FROM refresh_tokens WHERE digest = $1 FOR UPDATE",
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
            "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
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
        let mut tx = self.pool.begin().await?;
        let family: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE digest = $1")
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= $1")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (digest, client_id, redirect_uri, subject, scopes, code_challenge, nonce, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
        let mut tx = self.pool.begin().await?;
        // Marking it used first means two concurrent exchanges cannot both win.
        let taken = sqlx::query(
            "UPDATE authorization_codes SET used_at = $1, family_id = $2 \
             WHERE digest = $3 AND used_at IS NULL AND expires_at > $4",
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
                "SELECT family_id FROM authorization_codes WHERE digest = $1 AND used_at IS NOT NULL",
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
             FROM authorization_codes WHERE digest = $1",
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
    tx: &mut Transaction<'_, Postgres>,
    family_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let refresh = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let access = sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) \
         SELECT jti, expires_at, $1 FROM family_access_tokens WHERE family_id = $2 AND expires_at > $3 \
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
