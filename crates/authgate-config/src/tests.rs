// figment::Jail closures return figment::Error, whose size is not ours to choose.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

/// A jail without the environment the tests run in: every `AUTHGATE_` variable is read as
/// configuration, so one set where the tests run would change what they load.
fn in_jail(test: impl FnOnce(&mut Jail) -> figment::error::Result<()>) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        test(jail)
    });
}

fn load_in_jail(jail: &Jail, file: Option<&str>) -> Result<Config, ConfigError> {
    match file {
        Some(name) => load(Some(&jail.directory().join(name))),
        None => load(None),
    }
}

#[test]
fn no_file_gives_the_embedded_defaults_and_the_echo_route() {
    in_jail(|jail| {
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.store.url, "sqlite://authgate.db");
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:8081");
        let routes = config.effective_routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].path_prefix, "/");
        assert_eq!(routes[0].upstream, ECHO_UPSTREAM);
        assert!(!routes[0].iiif);
        // The IIIF demo's protected image, on by default.
        assert_eq!(routes[1].path_prefix, IIIF_DEMO_PREFIX);
        assert_eq!(routes[1].upstream, IIIF_DEMO_UPSTREAM);
        assert!(routes[1].iiif && routes[1].auth.contains(&AuthKind::Iiif));
        Ok(())
    });
}

#[test]
fn iiif_settings_are_checked() {
    in_jail(|jail| {
        jail.create_file(
            "authgate.toml",
            "[iiif]\ndemo = false\n[[routes]]\nname = \"images\"\npath_prefix = \"/iiif/\"\n\
             upstream = \"http://127.0.0.1:8182\"\niiif = true\n",
        )?;
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        let routes = config.effective_routes();
        assert_eq!(routes.len(), 1, "no demo route with the demo off");
        assert!(routes[0].auth.contains(&AuthKind::Iiif));
        assert_eq!(
            config.iiif.effective_origins(&config.server.public_url),
            ["http://127.0.0.1:8080"],
            "the origin of the public URL by default"
        );

        for (text, key) in [
            (
                "[iiif]\nallowed_origins = [\"https://viewer.example/app\"]\n",
                "iiif.allowed_origins[0]",
            ),
            ("[iiif]\ntoken_lifetime = \"10s\"\n", "iiif.token_lifetime"),
            (
                "[[routes]]\nname = \"iiif-demo\"\npath_prefix = \"/x/\"\nupstream = \"builtin:echo\"\n",
                "routes[0].name",
            ),
        ] {
            jail.create_file("authgate.toml", text)?;
            let error = load_in_jail(jail, None).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
        Ok(())
    });
}

#[test]
fn environment_overrides_the_file() {
    in_jail(|jail| {
        jail.create_file("authgate.toml", "[server]\nlisten = \"127.0.0.1:9999\"\n")?;
        jail.set_env("AUTHGATE_SERVER__LISTEN", "127.0.0.1:7777");
        jail.set_env("AUTHGATE_AUTH__HIDE_CREDENTIALS", "false");
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:7777");
        assert!(!config.auth.hide_credentials);
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_file_and_the_key() {
    in_jail(|jail| {
        jail.create_file("bad.toml", "[server]\nmax_body_size = \"lots\"\n")?;
        let err = load_in_jail(jail, Some("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("server.max_body_size"), "{err}");
        Ok(())
    });
}

#[test]
fn an_unknown_key_is_an_error() {
    in_jail(|jail| {
        jail.create_file("authgate.toml", "[server]\nlisten_addr = \"127.0.0.1:1\"\n")?;
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("listen_addr"), "{err}");
        Ok(())
    });
}

#[test]
fn a_bad_route_names_its_key() {
    in_jail(|jail| {
        jail.create_file(
            "authgate.toml",
            "[[routes]]\nname = \"a\"\npath_prefix = \"api\"\nupstream = \"http://127.0.0.1:1\"\n",
        )?;
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("routes[0].path_prefix"), "{err}");
        assert!(err.contains("authgate.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn a_bad_duration_says_what_is_expected() {
    in_jail(|jail| {
        jail.set_env("AUTHGATE_SERVER__DRAIN_TIMEOUT", "soon");
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("server.drain_timeout"), "{err}");
        assert!(err.contains("30s"), "{err}");
        Ok(())
    });
}

#[test]
fn an_explicit_missing_file_is_an_error() {
    in_jail(|jail| {
        let err = load_in_jail(jail, Some("nope.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn rate_limit_env_names_set_the_default_limit() {
    in_jail(|jail| {
        jail.create_file("authgate.toml", "[rate_limit]\nrpm = 10\n")?;
        jail.set_env("RATE_LIMIT_RPM", "600");
        jail.set_env("RATE_LIMIT_BURST", "50");
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.rate_limit.rpm, Some(600));
        assert_eq!(config.rate_limit.burst, Some(50));
        jail.set_env("RATE_LIMIT_RPM", "lots");
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("RATE_LIMIT_RPM"), "{err}");
        Ok(())
    });
}

#[test]
fn a_zero_rate_is_refused() {
    in_jail(|jail| {
        jail.create_file("authgate.toml", "[rate_limit]\nrpm = 0\n")?;
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("rate_limit.rpm"), "{err}");
        Ok(())
    });
}

#[test]
fn gateway_skip_auth_turns_authentication_off() {
    in_jail(|jail| {
        assert!(
            !load_in_jail(jail, None)
                .map_err(|e| e.to_string())?
                .auth
                .skip
        );
        jail.set_env("GATEWAY_SKIP_AUTH", "1");
        assert!(
            load_in_jail(jail, None)
                .map_err(|e| e.to_string())?
                .auth
                .skip
        );
        jail.set_env("GATEWAY_SKIP_AUTH", "maybe");
        let err = load_in_jail(jail, None).unwrap_err().to_string();
        assert!(err.contains("GATEWAY_SKIP_AUTH"), "{err}");
        Ok(())
    });
}

#[test]
fn static_keys_are_never_printed() {
    in_jail(|jail| {
        jail.create_file(
            "authgate.toml",
            "[[auth.static_keys]]\nkey = \"jane-secret\"\nuser = \"jane\"\nroles = [\"admin\"]\n",
        )?;
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.auth.static_keys[0].key.expose(), "jane-secret");
        assert!(!config.to_toml().contains("jane-secret"));
        assert!(!format!("{config:?}").contains("jane-secret"));
        Ok(())
    });
}

#[test]
fn telemetry_is_off_by_default_and_its_endpoint_must_be_plain_http() {
    in_jail(|jail| {
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.telemetry.otlp_endpoint, None);
        assert_eq!(
            config.store.flush_interval.0,
            std::time::Duration::from_secs(5)
        );

        jail.create_file(
            "otlp.toml",
            "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\notlp_protocol = \"http/json\"\n",
        )?;
        let config = load_in_jail(jail, Some("otlp.toml")).map_err(|e| e.to_string())?;
        assert_eq!(config.telemetry.otlp_protocol, OtlpProtocol::Json);

        jail.create_file(
            "tls.toml",
            "[telemetry]\notlp_endpoint = \"https://collector:4318\"\n",
        )?;
        let error = load_in_jail(jail, Some("tls.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("telemetry.otlp_endpoint"), "{error}");
        Ok(())
    });
}

#[test]
fn state_is_in_memory_by_default_and_redis_needs_a_redis_url() {
    in_jail(|jail| {
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.state.backend, StateBackend::Memory);
        assert_eq!(config.state.redis_url, "redis://127.0.0.1:6379");
        assert_eq!(config.state.on_error, OnStateError::Open);

        jail.create_file(
            "authgate.toml",
            "[state]\nbackend = \"redis\"\nredis_url = \"rediss://:hunter2@cache.internal:6380/2\"\n\
             on_error = \"closed\"\n",
        )?;
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.state.backend, StateBackend::Redis);
        assert_eq!(config.state.on_error, OnStateError::Closed);
        assert_eq!(
            config.state.redis_url,
            "rediss://:hunter2@cache.internal:6380/2"
        );
        let printed = config.to_toml();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("cache.internal:6380/2"), "{printed}");

        jail.set_env("AUTHGATE_STATE__REDIS_URL", "redis://127.0.0.1:7000");
        let config = load_in_jail(jail, None).map_err(|e| e.to_string())?;
        assert_eq!(config.state.redis_url, "redis://127.0.0.1:7000");

        for (url, problem) in [
            ("http://127.0.0.1:6379", "state.redis_url"),
            ("redis://", "state.redis_url"),
            ("127.0.0.1:6379", "state.redis_url"),
            ("redis://:s3cret@[bad", "state.redis_url"),
        ] {
            jail.set_env("AUTHGATE_STATE__REDIS_URL", url);
            let error = load_in_jail(jail, None).expect_err(url).to_string();
            assert!(error.contains(problem), "{url}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        jail.set_env("AUTHGATE_STATE__REDIS_URL", "redis://127.0.0.1:6379");
        jail.set_env("AUTHGATE_STATE__ON_ERROR", "sometimes");
        let error = load_in_jail(jail, None).expect_err("on_error").to_string();
        assert!(error.contains("state.on_error"), "{error}");
        Ok(())
    });
}

#[test]
fn a_memory_backend_does_not_look_at_the_redis_url() {
    in_jail(|jail| {
        jail.create_file("authgate.toml", "[state]\nredis_url = \"not a url\"\n")?;
        load_in_jail(jail, None).map_err(|e| e.to_string())?;
        Ok(())
    });
}
