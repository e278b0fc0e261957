use crate::keys::{self, KeyRing};
use crate::{Grant, Issuer, TokenError, Verifier};
use authgate_config::SigningAlg;
use authgate_store::{
    Actor, AuditEntry, SigningKey, SigningKeyStore as _, SigningPurpose, SqliteStore,
};
use std::sync::Arc;
use std::time::Duration;

const ISSUER: &str = "http://127.0.0.1:8080";
const HOUR: Duration = Duration::from_secs(3600);

async fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (dir, Arc::new(SqliteStore::open(&url).await.unwrap()))
}

/// Makes a new `alg` key sign tokens of `purpose`, as the operations layer does.
pub(crate) async fn rotate(
    store: &SqliteStore,
    purpose: SigningPurpose,
    alg: SigningAlg,
) -> SigningKey {
    let key = keys::generate(purpose, alg).unwrap();
    let audit = AuditEntry {
        actor: Actor {
            name: "tester".into(),
            source: "test".into(),
            signed_in: false,
        },
        action: "signing_key.rotate".into(),
        target_type: "signing_key".into(),
        target_id: key.kid.clone(),
        details: serde_json::json!({}),
    };
    store
        .rotate_signing_key(key, keys::publish_retired_until(HOUR), &audit)
        .await
        .unwrap()
}

fn grant() -> Grant {
    Grant {
        subject: "jane".into(),
        client_id: "authgate-cli".into(),
        scopes: vec!["openid".into(), "tasks:read".into()],
        roles: vec!["viewer".into()],
        tenant: "default".into(),
    }
}

#[tokio::test]
async fn each_algorithm_signs_tokens_its_jwks_verifies() {
    for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
        let (_dir, store) = store().await;
        rotate(&store, SigningPurpose::AccessTokens, alg).await;
        let ring = KeyRing::load(store.clone()).await.unwrap();
        let jwks = ring.jwks();
        assert_eq!(jwks.keys.len(), 1);
        let published = serde_json::to_string(jwks.as_ref()).unwrap();
        assert!(
            !published.contains("\"d\""),
            "no private parameter in {published}"
        );

        let issued = Issuer::new(ring.clone(), ISSUER, "authgate", 3600)
            .access_token(&grant())
            .unwrap();
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid, jwks.keys[0].common.key_id);
        let claims = Verifier::new(ring.clone(), ISSUER, "authgate")
            .verify(&issued.token)
            .await
            .unwrap();
        assert_eq!(claims.sub, "jane");
        assert_eq!(claims.scope, "openid tasks:read");
        assert_eq!(
            Verifier::new(ring, ISSUER, "someone-else")
                .verify(&issued.token)
                .await,
            Err(TokenError::Invalid("wrong audience".into())),
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn after_a_rotation_old_tokens_verify_and_new_ones_use_the_new_key() {
    let (_dir, store) = store().await;
    rotate(&store, SigningPurpose::AccessTokens, SigningAlg::Es256).await;
    let ring = KeyRing::load(store.clone()).await.unwrap();
    let issuer = Issuer::new(ring.clone(), ISSUER, "authgate", 3600);
    let verifier = Verifier::new(ring.clone(), ISSUER, "authgate");
    let before = issuer.access_token(&grant()).unwrap().token;

    let rotated = rotate(&store, SigningPurpose::AccessTokens, SigningAlg::EdDsa).await;
    ring.reload().await.unwrap();
    assert_eq!(ring.jwks().keys.len(), 2);
    let after = issuer.access_token(&grant()).unwrap().token;
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(),
        Some(rotated.kid.as_str())
    );
    assert!(verifier.verify(&before).await.is_ok());
    assert!(verifier.verify(&after).await.is_ok());
}

#[tokio::test]
async fn id_tokens_are_signed_by_the_id_token_key_which_access_tokens_may_not_use() {
    let (_dir, store) = store().await;
    rotate(&store, SigningPurpose::AccessTokens, SigningAlg::Es256).await;
    rotate(&store, SigningPurpose::IdTokens, SigningAlg::Rs256).await;
    let ring = KeyRing::load(store.clone()).await.unwrap();
    assert_eq!(ring.algorithms(SigningPurpose::IdTokens), ["RS256"]);
    assert_eq!(ring.algorithms(SigningPurpose::AccessTokens), ["ES256"]);
    let issuer = Issuer::new(ring.clone(), ISSUER, "authgate", 3600);

    let id_token = issuer.id_token(&grant(), None, None).unwrap();
    let id_header = jsonwebtoken::decode_header(&id_token).unwrap();
    assert_eq!(id_header.alg, jsonwebtoken::Algorithm::RS256);
    let access = issuer.access_token(&grant()).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&access.token).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );

    // Claims of an access token signed with the ID-token key (as a confused signer would) are
    // not an access token.
    let id_key = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.purpose == SigningPurpose::IdTokens)
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(id_key.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &access.claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(id_key.private_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        Verifier::new(ring, ISSUER, "authgate")
            .verify(&forged)
            .await,
        Err(TokenError::Invalid(
            "not signed by an access-token key".into()
        ))
    );
}

#[test]
fn every_endpoint_path_is_under_a_path_prefix() {
    use crate::endpoints::*;
    for path in [
        OPENID_CONFIGURATION,
        OAUTH_METADATA,
        JWKS,
        WEAVIATE_DISCOVERY,
        TOKEN,
        AUTHORIZE,
        REVOKE,
        INTROSPECT,
        USERINFO,
    ] {
        assert!(
            PATH_PREFIXES.iter().any(|prefix| path.starts_with(prefix)),
            "{path} is under none of {PATH_PREFIXES:?}: the gateway would proxy it"
        );
    }
}
