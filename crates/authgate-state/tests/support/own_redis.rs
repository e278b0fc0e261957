//! A Redis server of a test's own, to stop and start: shared by the state crate's outage tests
//! and the integration suite's (included by path, as a test crate cannot depend on another's).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `redis-server` as a child process on a loopback `port`, keeping nothing on disk; stopped
/// when dropped.
pub(crate) struct OwnRedis {
    child: Child,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    pub(crate) fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, _dir: dir }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on (yet).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}
