//! Starts the real `authgate` binary on real sockets (port 0, read back from its log) with a
//! store of its own (a SQLite file, or a fresh PostgreSQL database: [`TestStore`]), and the
//! Python upstream in a process of its own; both die with the test.

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a change may take to reach a running gateway (SPEC §1: within 1 s).
pub const PROPAGATION: Duration = Duration::from_secs(1);

pub const AUTHGATE: &str = env!("CARGO_BIN_EXE_authgate");

/// The system's Python, where `scripts/test.sh` installs the libraries the tests use.
pub const PYTHON: &str = "/usr/bin/python3";

/// Runs one of the Python scripts beside these tests with `args`; what it printed, as JSON.
pub fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .join(script);
    let out = Command::new(PYTHON).arg(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A loopback port held (bound, not listening, with SO_REUSEPORT) until dropped: no other test
/// is given it meanwhile, nothing answers on it, and a server that binds it with SO_REUSEPORT
/// too (authgate does; nginx with `reuseport`) can take it over.
pub struct ReservedPort {
    _socket: tokio::net::TcpSocket,
    pub port: u16,
}

pub fn reserve_port() -> ReservedPort {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = socket.local_addr().unwrap().port();
    ReservedPort {
        _socket: socket,
        port,
    }
}

/// A running `authgate serve`.
/// Where a gateway started by these tests keeps its store: a SQLite file in its directory, or,
/// with `TEST_STORE=postgres`, a fresh database on the PostgreSQL server that
/// `TEST_POSTGRES_URL` names (`scripts/test.sh` starts one and runs this suite on both).
pub enum TestStore {
    Sqlite(PathBuf),
    Postgres { server: String, database: String },
}

impl TestStore {
    fn create(dir: &Path) -> Self {
        if std::env::var("TEST_STORE").as_deref() != Ok("postgres") {
            return Self::Sqlite(dir.join("authgate.db"));
        }
        let server = std::env::var("TEST_POSTGRES_URL")
            .expect("TEST_POSTGRES_URL (scripts/test.sh starts a PostgreSQL server)");
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let database = format!(
            "authgate_it_{}_{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        );
        psql(&server, &format!("CREATE DATABASE {database}"));
        Self::Postgres { server, database }
    }

    /// The `store.url` of the gateway and its CLI.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(file) => format!("sqlite://{}", file.display()),
            Self::Postgres { server, database } => {
                let (base, _) = server
                    .rsplit_once('/')
                    .expect("a server URL with a database");
                format!("{base}/{database}")
            }
        }
    }

    /// Everything the store holds, as bytes to search: the file and its write-ahead log, or a
    /// dump of the database's data.
    pub fn contents(&self) -> Vec<u8> {
        match self {
            Self::Sqlite(file) => {
                let mut bytes = std::fs::read(file).expect("store file");
                bytes.extend(std::fs::read(file.with_extension("db-wal")).unwrap_or_default());
                bytes
            }
            Self::Postgres { .. } => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", "--dbname", &self.url()])
                    .output()
                    .expect("pg_dump");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }

    /// Runs one SQL statement on the store, as time or a fault would leave it; returns the rows
    /// it changed (-1 for a statement that changes none, like `DROP TABLE`).
    pub fn execute(&self, statement: &str) -> i64 {
        let out = match self {
            Self::Sqlite(file) => {
                let out = Command::new(PYTHON)
                    .args([
                        "-c",
                        "import sqlite3, sys\n\
                         db = sqlite3.connect(sys.argv[1])\n\
                         print(db.execute(sys.argv[2]).rowcount)\n\
                         db.commit()",
                        file.to_str().expect("path"),
                        statement,
                    ])
                    .output()
                    .expect("python");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            // psql prints the command's tag: `UPDATE 1`, `DROP TABLE`.
            Self::Postgres { .. } => psql(&self.url(), statement),
        };
        out.split_whitespace()
            .last()
            .and_then(|count| count.parse().ok())
            .unwrap_or(-1)
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Self::Postgres { server, database } = self {
            psql(
                server,
                &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
            );
        }
    }
}

/// A test gateway's configuration: listeners on port 0, the store at `store_url`, shared state
/// as the suite runs it, and the test's own `extra`.
fn config(store_url: &str, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\ndrain_timeout = \"10s\"\n\
         [store]\nurl = \"{store_url}\"\nchange_poll_interval = \"100ms\"\n{}{extra}",
        shared_state(store_url, extra)
    )
}

/// The `[state]` section when the suite runs on Redis (`TEST_STATE=redis`, with the server
/// `TEST_REDIS_URL` names), unless the test sets its own: rate limits, sign-in lockouts and
/// idempotency records then go through Redis, under a key prefix of the store's own (the
/// instances of one test share it; tests running at once keep apart, as deployments do);
/// otherwise nothing (in-process state).
fn shared_state(store_url: &str, extra: &str) -> String {
    if std::env::var("TEST_STATE").as_deref() != Ok("redis") || extra.contains("[state]") {
        return String::new();
    }
    let url = std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL (scripts/test.sh starts a Redis server)");
    let prefix = format!("{:x}", Sha256::digest(store_url));
    format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{url}\"\nkey_prefix = \"{}\"\n",
        &prefix[..16]
    )
}

/// Runs `statement` with psql on the database `url` names; what psql printed.
fn psql(url: &str, statement: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-t",
            "-A",
            "-d",
            url,
            "-c",
            statement,
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Gateway {
    child: Child,
    /// The working directory: configuration, store, anything the test adds.
    pub dir: PathBuf,
    /// The store, for gateways started with their own (every one but `spawn`'s).
    store: Option<TestStore>,
    _owned: Option<tempfile::TempDir>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl Gateway {
    /// Starts a gateway whose configuration is `extra` plus listeners on port 0 and a store in a
    /// fresh directory.
    pub fn start(extra: &str) -> Gateway {
        Self::start_with_env(extra, &[])
    }

    /// Like [`Gateway::start`], with environment overrides (`AUTHGATE_SERVER__...`).
    pub fn start_with_env(extra: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TestStore::create(dir.path());
        std::fs::write(
            dir.path().join("authgate.toml"),
            config(&store.url(), extra),
        )
        .expect("write config");
        let mut gateway = Self::spawn(dir.path(), env);
        gateway.store = Some(store);
        gateway._owned = Some(dir);
        gateway
    }

    /// A second instance on `first`'s store (what runs behind one load balancer), with its
    /// own directory and listeners.
    pub fn start_beside(first: &Gateway, extra: &str) -> Gateway {
        Self::start_on(&first.store().url(), extra)
    }

    /// Starts a gateway on the store at `store_url` (a server of the test's own, or another
    /// gateway's), with its own directory and listeners.
    pub fn start_on(store_url: &str, extra: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("authgate.toml"), config(store_url, extra))
            .expect("write config");
        let mut gateway = Self::spawn(dir.path(), &[]);
        gateway._owned = Some(dir);
        gateway
    }

    /// Like [`Gateway::start`], on a port chosen beforehand and with `server.public_url` its real
    /// address, for the token service (whose issuer and endpoints are built from it).
    pub fn start_public(extra: &str) -> Gateway {
        let reserved = reserve_port();
        let listen = format!("127.0.0.1:{}", reserved.port);
        let public_url = format!("http://{listen}");
        // Held until the gateway listens on it.
        let gateway = Self::start_with_env(
            extra,
            &[
                ("AUTHGATE_SERVER__LISTEN", listen.as_str()),
                ("AUTHGATE_SERVER__PUBLIC_URL", public_url.as_str()),
            ],
        );
        drop(reserved);
        gateway
    }

    /// Starts `authgate serve` in `dir` (which holds `authgate.toml`, or nothing at all).
    pub fn spawn(dir: &Path, env: &[(&str, &str)]) -> Gateway {
        let mut command = authgate();
        command
            .arg("serve")
            .current_dir(dir)
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn authgate");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                for (marker, which) in
                    [("gateway listening addr=", 0), ("admin listening addr=", 1)]
                {
                    if let Some(rest) = line.split(marker).nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send((which, addr.to_owned()));
                    }
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        // Built before the wait, so that a failed start still kills the process (Drop).
        let unbound = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut gateway = Gateway {
            child,
            dir: dir.to_owned(),
            store: None,
            _owned: None,
            addr: unbound,
            admin: unbound,
            logs,
        };
        let mut seen = [false, false];
        while seen.contains(&false) {
            let Ok((which, addr)) = rx.recv_timeout(Duration::from_secs(20)) else {
                panic!("authgate did not start; its log:\n{}", gateway.logs());
            };
            let addr = addr.parse().expect("listen address");
            if which == 0 {
                gateway.addr = addr;
            } else {
                gateway.admin = addr;
            }
            seen[which] = true;
        }
        gateway
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status of `GET /` with `X-API-Key: secret`.
    pub async fn status_with_key(&self, secret: &str) -> reqwest::StatusCode {
        self.get_with_key("/", secret).await.status()
    }

    /// How long until `GET /` with the key is answered `want`, if within `limit`.
    pub async fn answers_within(
        &self,
        secret: &str,
        want: reqwest::StatusCode,
        limit: Duration,
    ) -> Option<Duration> {
        eventually(limit, || async {
            self.status_with_key(secret).await == want
        })
        .await
    }

    /// The store this gateway was started with.
    pub fn store(&self) -> &TestStore {
        self.store
            .as_ref()
            .expect("a gateway started with a store of its own")
    }

    /// GET `path` with `X-API-Key: secret`.
    pub async fn get_with_key(&self, path: &str, secret: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .header("X-API-Key", secret)
            .send()
            .await
            .unwrap()
    }

    /// GET `path` with `X-API-Key: secret`, and the JSON answer (what the echo upstream saw).
    pub async fn echo(&self, path: &str, secret: &str) -> serde_json::Value {
        self.get_with_key(path, secret).await.json().await.unwrap()
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's resident memory, in KiB.
    pub fn resident_kib(&self) -> u64 {
        self.process_status("VmRSS")
            .split_whitespace()
            .next()
            .and_then(|kib| kib.parse().ok())
            .expect("VmRSS in KiB")
    }

    /// A field of the gateway's `/proc/PID/status`, as the kernel writes it.
    pub fn process_status(&self, field: &str) -> String {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
            .trim()
            .to_owned()
    }

    /// Everything the gateway has logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Asks the process to stop, as an operator's SIGTERM does.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The one-time admin token printed at the first start.
    pub fn admin_token(&self) -> String {
        let logs = self.logs();
        logs.lines()
            .find_map(|line| line.strip_prefix("admin token: "))
            .unwrap_or_else(|| panic!("no admin token in the log:\n{logs}"))
            .to_owned()
    }

    /// The admin listener's URL for `path`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Runs an `authgate` command against this gateway's configuration and store.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_in(&self.dir, args)
    }

    /// Runs a command with `--output json` that must succeed, and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "authgate {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// Creates a user with a password (given on stdin, as an operator would) and a role.
    pub fn user(&self, name: &str, password: &str, role: &str) {
        let out = self.cli_with_input(
            &["users", "create", name, "--role", role, "--password-stdin"],
            password.as_bytes(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the CLI against this gateway's store with `input` on its standard input.
    pub fn cli_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = authgate()
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// `method path` with `Authorization: Bearer token`.
    pub async fn with_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Creates an application in `mode` and returns its id.
    pub fn app(&self, mode: &str) -> String {
        self.json(&["apps", "create", "demo", "--mode", mode])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a key for `app`; returns (key id, secret).
    pub fn key(&self, app: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["keys", "create", "--app", app];
        args.extend(extra);
        let key = self.json(&args);
        (
            key["id"].as_str().unwrap().to_owned(),
            key["secret"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `authgate` in `dir`, where its configuration (if any) lives.
pub fn cli_in(dir: &Path, args: &[&str]) -> Output {
    authgate()
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run authgate")
}

/// The `authgate` binary, without the `AUTHGATE_` variables of the environment the tests run in
/// (authgate reads each as configuration): a test's processes see only the configuration it
/// gives them.
pub fn authgate() -> Command {
    let mut command = Command::new(AUTHGATE);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AUTHGATE_") {
            command.env_remove(name);
        }
    }
    command
}

/// The Python upstream, in its own process.
pub struct Upstream {
    child: Child,
    pub port: u16,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::script("upstream.py")
    }

    /// Starts another Python server of `tests/it/` that prints its port first.
    pub fn script(name: &str) -> Upstream {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it")
            .join(name);
        let mut child = Command::new(PYTHON)
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("upstream port");
        let port = line.trim().parse().expect("upstream printed its port");
        Upstream { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many counted requests reached the upstream.
    pub async fn hits(&self) -> u64 {
        let body: serde_json::Value = reqwest::get(format!("{}/hits", self.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["hits"].as_u64().unwrap()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A route `/` to `upstream`, with extra route keys.
pub fn route_to(upstream: &str, extra: &str) -> String {
    format!("[[routes]]\nname = \"api\"\npath_prefix = \"/\"\nupstream = \"{upstream}\"\n{extra}\n")
}

/// Sends raw bytes on a fresh connection (then closes the sending side, with `close_write`) and
/// reads the answer until the server closes; a gateway that neither answers nor closes within
/// 5 s fails the test.
pub async fn raw(gateway: &Gateway, request: &[u8], close_write: bool) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if close_write {
        stream.shutdown().await.unwrap();
    }
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("the gateway answered and closed the connection")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Requests that stop after this long fail the test: nothing may hang.
pub const NO_HANG: Duration = Duration::from_secs(3);

/// A client whose requests fail the test when unanswered after `limit`.
pub fn client_waiting(limit: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(limit).build().unwrap()
}

/// `GET`s with the key, over `urls` in turn, every 5 ms while `running`; returns every status
/// and the slowest answer. An answer later than [`NO_HANG`] fails the test.
pub fn background_load(
    urls: Vec<String>,
    secret: &str,
    running: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<reqwest::StatusCode>, Duration)> {
    let secret = secret.to_owned();
    tokio::spawn(async move {
        let client = client_waiting(NO_HANG);
        let (mut statuses, mut slowest) = (Vec::new(), Duration::ZERO);
        for url in urls.iter().cycle() {
            if !running.load(Ordering::Relaxed) || statuses.len() >= 100_000 {
                break;
            }
            let sent = Instant::now();
            let response = client
                .get(url)
                .header("X-API-Key", &secret)
                .send()
                .await
                .expect("no request hangs");
            slowest = slowest.max(sent.elapsed());
            statuses.push(response.status());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (statuses, slowest)
    })
}

/// Polls `probe` until it returns true or `limit` passes; returns how long it took.
pub async fn eventually<F, Fut>(limit: Duration, mut probe: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if probe().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Sends a test request; not getting a response at all fails the test.
pub trait Fetch {
    async fn fetch(self) -> reqwest::Response;

    /// The response body as JSON.
    async fn fetch_json<T: serde::de::DeserializeOwned>(self) -> T;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(self) -> T {
        self.fetch().await.json().await.unwrap()
    }
}
