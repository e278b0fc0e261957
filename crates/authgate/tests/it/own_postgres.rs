//! A PostgreSQL server of a test's own, to stop and start (the suite's shared server must stay
//! up for the other tests).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A PostgreSQL cluster in a temporary directory, listening on a loopback `port`; stopped when
/// dropped. As root it runs as the `postgres` user (PostgreSQL refuses root), as
/// `scripts/test.sh`'s does.
pub struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_root: bool,
}

impl OwnPostgres {
    pub fn start(port: u16) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL under /usr/lib/postgresql (scripts/test.sh installs it)")
            .map(|entry| entry.expect("entry").path().join("bin"))
            .max_by_key(|bin| version(bin))
            .expect("a PostgreSQL version");
        let dir = tempfile::tempdir().expect("temp dir");
        let as_root = run(Command::new("id").arg("-u")).stdout.trim_ascii() == b"0";
        if as_root {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let server = Self {
            bin,
            dir,
            port,
            as_root,
        };
        let data = server.data();
        run(server
            .command("initdb")
            .args(["--auth=trust", "--username=authgate", "--no-sync"])
            .arg(format!("--pgdata={}", data.display())));
        server.start_again();
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://authgate@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server the way an operator's restart does (connections closed at once).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "--mode=fast"]);
    }

    /// Starts it again on the same data and port; returns once it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = format!("--log={}", self.dir.path().join("server.log").display());
        self.pg_ctl(&["start", "--wait", &log, &format!("--options={options}")]);
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = format!("--pgdata={}", self.data().display());
        run(self.command("pg_ctl").arg(data).args(args).arg("--silent"));
    }

    /// `program` from the server's binaries, run as the user that owns the cluster.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = format!("--pgdata={}", self.data().display());
        let _ = self
            .command("pg_ctl")
            .args(["stop", "--mode=immediate", "--silent", &data])
            .output();
    }
}

/// `/usr/lib/postgresql/<version>/bin`'s version, for choosing the newest.
fn version(bin: &Path) -> u32 {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str()?.parse().ok())
        .unwrap_or(0)
}

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
