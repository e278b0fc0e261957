//! One module per command group; each opens the store named by the configuration.

mod admin_tokens;
mod apps;
mod audit;
mod check;
mod keys;
mod roles;
mod serve;
mod signing_keys;
mod users;

use crate::cli::{Args, Command, ConfigCommand};
use anyhow::Context as _;
use authgate_config::{Config, StateBackend};
use authgate_gateway::stack::Gateway;
use authgate_ops::Operations;
use authgate_state::{
    IdempotencyStore, MemoryIdempotencyStore, MemoryRateLimiter, RateLimiter, RedisState,
};
use authgate_store::Store;
use std::process::ExitCode;
use std::sync::Arc;

pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config_file = args.config.as_deref();
    let load = || authgate_config::load(config_file);
    let output = args.output;
    match args.command {
        Command::Config(ConfigCommand::Check { file }) => {
            let config = authgate_config::load(file.as_deref().or(config_file))?;
            print!("{}", config.to_toml());
        }
        Command::Serve => serve::run(load()?).await?,
        Command::Check {
            method,
            path,
            headers,
        } => return check::run(load()?, &method, &path, &headers, output).await,
        Command::Migrate => {
            let config = load()?;
            open_store(&config).await?;
            eprintln!("migrations applied to {}", config.store.url);
        }
        Command::Apps(command) => apps::run(&operations(&load()?).await?, command, output).await?,
        Command::Keys(command) => keys::run(&operations(&load()?).await?, command, output).await?,
        Command::Roles(command) => {
            roles::run(&operations(&load()?).await?, command, output).await?
        }
        Command::Users(command) => {
            users::run(&operations(&load()?).await?, command, output).await?
        }
        Command::SigningKeys(command) => {
            signing_keys::run(&operations(&load()?).await?, command, output).await?
        }
        Command::Audit(command) => {
            audit::run(&operations(&load()?).await?, command, output).await?
        }
        Command::AdminTokens(command) => {
            admin_tokens::run(&operations(&load()?).await?, command, output).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens (creating and migrating) the configured store.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    authgate_store::open(&config.store.url)
        .await
        .with_context(|| format!("cannot open the store {}", config.store.url))
}

/// The operations layer on the configured store: what every changing command goes through.
async fn operations(config: &Config) -> anyhow::Result<Operations> {
    Ok(Operations::new(open_store(config).await?, config))
}

/// The gateway as `serve` runs it and `check` consults it: configuration, store, shared state.
pub(crate) async fn gateway(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Gateway> {
    let (rate_limiter, idempotency): (Arc<dyn RateLimiter>, Arc<dyn IdempotencyStore>) =
        match config.state.backend {
            StateBackend::Memory => (
                Arc::new(MemoryRateLimiter::new()),
                Arc::new(MemoryIdempotencyStore::default()),
            ),
            // Connects on first use: a gateway starts while Redis is down.
            StateBackend::Redis => {
                let redis = RedisState::connect(&config.state.redis_url)
                    .context("state.redis_url")?
                    .with_key_prefix(&config.state.key_prefix);
                (
                    Arc::new(redis.rate_limiter()),
                    Arc::new(redis.idempotency_store()),
                )
            }
        };
    Gateway::new(config, store, rate_limiter, idempotency)
        .await
        .map_err(anyhow::Error::msg)
}
