use super::*;

#[test]
fn generated_secrets_validate_and_differ() {
    let a = generate("live");
    let b = generate("live");
    assert!(a.secret.starts_with("sk_live_"));
    assert_eq!(validate(&a.secret), Ok(()));
    assert_ne!(a.secret, b.secret);
    assert_eq!(a.digest, KeyDigest::of(&a.secret));
    assert!(a.digest.matches(&KeyDigest::of(&a.secret)));
    assert!(!a.digest.matches(&b.digest));
}

#[test]
fn display_prefix_shows_env_and_six_body_characters() {
    let s = generate("test");
    assert_eq!(s.display_prefix.len(), "sk_test_".len() + 6);
    assert!(s.secret.starts_with(&s.display_prefix));
    assert_eq!(display_prefix("sk_x"), "sk_x");
}

#[test]
fn a_changed_character_fails_the_checksum() {
    let s = generate("live").secret;
    let last = s.chars().last().unwrap();
    let replacement = if last == 'a' { 'b' } else { 'a' };
    let tampered = format!("{}{replacement}", &s[..s.len() - 1]);
    assert!(validate(&tampered).is_err());
}

#[test]
fn malformed_values_are_refused() {
    for bad in [
        "",
        "sk_",
        "sk_live_",
        "pk_live_abc",
        "sk__abc",
        "sk_bench_00000000000000000000000000000000",
        "sk_live_0OIl",
        &"sk_live_".repeat(20),
        "sk_lïve_abc",
    ] {
        assert!(validate(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn the_env_is_covered_by_the_checksum() {
    let s = generate("live").secret;
    let moved = s.replacen("sk_live_", "sk_test_", 1);
    assert_eq!(validate(&moved), Err(MalformedKey::Checksum));
}

proptest::proptest! {
    /// Fuzz target: the key format, on any text a client can send as a key. Nothing panics; a
    /// generated key is valid, and changing any one of its characters makes it invalid.
    #[test]
    fn fuzz_key_format(
        candidate in proptest::prop_oneof![
            proptest::arbitrary::any::<String>(),
            "sk_[a-z0-9]{0,6}_[1-9A-HJ-NP-Za-km-z]{0,40}",
        ],
        position in 0usize..64,
        replacement in proptest::char::range('!', '~'),
    ) {
        let _ = validate(&candidate);
        let _ = display_prefix(&candidate);
        let _ = KeyDigest::of(&candidate);
        let key = generate("live");
        proptest::prop_assert!(validate(&key.secret).is_ok());
        let position = position % key.secret.len();
        let original = key.secret.as_bytes()[position] as char;
        if replacement != original {
            let mut changed = key.secret.clone();
            changed.replace_range(position..=position, &replacement.to_string());
            proptest::prop_assert!(validate(&changed).is_err(), "{changed}");
        }
    }
}
