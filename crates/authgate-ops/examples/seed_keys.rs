//! Fills a store with applications and keys for the memory benchmark (scripts/bench-memory.sh),
//! through the operations layer as the CLI would, and prints each key's secret on its own line.
//!
//!   cargo run --release -p authgate-ops --example seed_keys -- <store url> <apps> <keys per app>

use authgate_config::Config;
use authgate_ops::{CreateApp, CreateKey, Operations};
use authgate_store::{Actor, AppMode};
use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, apps, keys_per_app] = args.as_slice() else {
        return Err("usage: seed_keys <store url> <apps> <keys per app>".into());
    };
    let (apps, keys_per_app): (u32, u32) = (apps.parse()?, keys_per_app.parse()?);
    let ops = Operations::new(authgate_store::open(url).await?, &Config::default());
    let actor = Actor {
        name: "bench-memory".into(),
        source: "seed".into(),
        signed_in: false,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for n in 0..apps {
        let new_app = CreateApp {
            name: format!("bench-{n}"),
            tenant: None,
            owner: None,
            mode: AppMode::ApiKey,
            roles: vec!["viewer".into()],
            redirect_uris: Vec::new(),
        };
        let app = ops.create_app(&actor, new_app).await?;
        for _ in 0..keys_per_app {
            let new_key = CreateKey {
                app_id: app.id.clone(),
                name: None,
                expires: None,
                scopes: Vec::new(),
            };
            writeln!(out, "{}", ops.create_key(&actor, new_key).await?.secret)?;
        }
    }
    out.flush()?;
    Ok(())
}
