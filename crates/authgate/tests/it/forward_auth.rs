//! Forward-auth: `/_authgate/verify` in the forms nginx, Traefik and Envoy use, a real nginx
//! protecting an upstream through `auth_request`, and `authgate check` agreeing with the gateway.

use crate::harness::Fetch as _;
use crate::harness::{Gateway, Upstream};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ROUTES: &str = "[[routes]]\nname = \"tasks\"\npath_prefix = \"/api/\"\nupstream = \"builtin:echo\"\npermission = \"tasks\"\n";

/// jane (admin) and ian (viewer), each with a key.
fn jane_and_ian(gateway: &Gateway) -> (String, String) {
    let mut keys = Vec::new();
    for (name, role) in [("jane", "admin"), ("ian", "viewer")] {
        gateway.json(&["users", "create", name, "--role", role]);
        let app = gateway.json(&["apps", "create", name, "--owner", name]);
        keys.push(gateway.key(app["id"].as_str().unwrap(), &[]).1);
    }
    let ian = keys.pop().unwrap();
    (keys.pop().unwrap(), ian)
}

async fn verify(gateway: &Gateway, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(gateway.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.fetch().await
}

#[tokio::test]
async fn verify_answers_nginx_traefik_and_envoy() {
    let gateway = Gateway::start(ROUTES);
    let (jane, ian) = jane_and_ian(&gateway);

    let allowed = verify(
        &gateway,
        "/_authgate/verify",
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/api/tasks?x=1"),
            ("X-API-Key", &ian),
        ],
    )
    .await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers()["x-authgate-subject"], "ian");
    assert_eq!(allowed.headers()["x-authgate-roles"], "viewer");
    assert_eq!(allowed.headers()["x-authgate-auth-method"], "api_key");

    let forbidden = verify(
        &gateway,
        "/_authgate/verify",
        &[
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/api/tasks"),
            ("X-Forwarded-Host", "api.example.com"),
            ("X-API-Key", &ian),
        ],
    )
    .await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.json::<Value>().await.unwrap()["required"],
        "tasks:write"
    );

    let envoy = reqwest::Client::new()
        .post(gateway.url("/_authgate/verify/api/tasks"))
        .header("X-API-Key", &jane)
        .fetch()
        .await;
    assert_eq!(envoy.status(), StatusCode::OK);
    assert_eq!(envoy.headers()["x-authgate-subject"], "jane");

    let missing = verify(
        &gateway,
        "/_authgate/verify",
        &[("X-Original-URI", "/api/tasks")],
    )
    .await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "missing_credentials"
    );
    let unrouted = verify(
        &gateway,
        "/_authgate/verify",
        &[("X-Original-URI", "/elsewhere"), ("X-API-Key", &jane)],
    )
    .await;
    assert_eq!(unrouted.status(), StatusCode::NOT_FOUND);
}

/// nginx in front, asking authgate before it proxies to the upstream.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(authgate: std::net::SocketAddr, upstream: u16) -> Nginx {
        let binary = Path::new("/usr/sbin/nginx");
        assert!(
            binary.exists(),
            "nginx is needed for this test: apt-get install nginx-light (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        // Held until nginx listens on it (`reuseport` lets nginx bind beside the holder).
        let reserved = crate::harness::reserve_port();
        let port = reserved.port;
        let d = dir.path().display();
        let config = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{}}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/b;\nproxy_temp_path {d}/p;\nfastcgi_temp_path {d}/f;\n\
             uwsgi_temp_path {d}/u;\nscgi_temp_path {d}/s;\n\
             server {{\nlisten 127.0.0.1:{port} reuseport;\n\
             location = /_auth {{\ninternal;\nproxy_pass http://{authgate}/_authgate/verify;\n\
             proxy_pass_request_body off;\nproxy_set_header Content-Length \"\";\n\
             proxy_set_header X-Original-URI $request_uri;\nproxy_set_header X-Original-Method $request_method;\n}}\n\
             location / {{\nauth_request /_auth;\nauth_request_set $subject $upstream_http_x_authgate_subject;\n\
             proxy_set_header X-User $subject;\nproxy_pass http://127.0.0.1:{upstream};\n}}\n}}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(binary)
            .args([
                "-p",
                &d.to_string(),
                "-c",
                "nginx.conf",
                "-e",
                "error.log",
                "-g",
                "daemon off;",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not start");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_real_nginx_protects_an_upstream_through_auth_request() {
    let upstream = Upstream::start();
    let gateway = Gateway::start(ROUTES);
    let (jane, ian) = jane_and_ian(&gateway);
    let nginx = Nginx::start(gateway.addr, upstream.port);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", nginx.port);
    let client = reqwest::Client::new();

    let read = client
        .get(url("/api/tasks"))
        .header("X-API-Key", &ian)
        .fetch()
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let seen: Value = read.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-user"], "ian",
        "nginx passed authgate's identity on"
    );

    let write = client
        .post(url("/api/tasks"))
        .header("X-API-Key", &ian)
        .fetch()
        .await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let write = client
        .post(url("/api/tasks"))
        .header("X-API-Key", &jane)
        .fetch()
        .await;
    assert_eq!(write.status(), StatusCode::OK);
    let anonymous = client.get(url("/api/tasks")).fetch().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        upstream.hits().await,
        2,
        "only the allowed requests reached the upstream"
    );
}

#[tokio::test]
async fn check_prints_the_decision_the_gateway_makes() {
    let gateway = Gateway::start(&format!("[rate_limit]\nrpm = 600\n{ROUTES}"));
    let (jane, ian) = jane_and_ian(&gateway);
    let cases = [
        ("GET", "/api/tasks", Some(&ian)),
        ("POST", "/api/tasks", Some(&ian)),
        ("POST", "/api/tasks", Some(&jane)),
        ("GET", "/api/tasks", None),
        ("GET", "/nowhere", Some(&jane)),
    ];
    for (method, path, key) in cases {
        let mut request =
            reqwest::Client::new().request(method.parse().unwrap(), gateway.url(path));
        let mut args = vec!["check", "--method", method, "--path", path];
        let header;
        if let Some(key) = key {
            request = request.header("X-API-Key", key.as_str());
            header = format!("X-API-Key: {key}");
            args.extend(["--header", &header]);
        }
        let gateway_status = request.fetch().await.status();

        let mut json_args = args.clone();
        json_args.extend(["--output", "json"]);
        let out = gateway.cli(&json_args);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["status"],
            gateway_status.as_u16(),
            "{method} {path}: {report}"
        );
        assert_eq!(
            out.status.success(),
            gateway_status.is_success(),
            "exit code of check for {method} {path}"
        );
        assert_eq!(report["allowed"], gateway_status.is_success());
    }

    let out = gateway.cli(&[
        "check",
        "--method",
        "POST",
        "--path",
        "/api/tasks",
        "--header",
        &format!("X-API-Key: {ian}"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "decision:      denied (403 insufficient_permissions)",
        "route:         tasks (/api/)",
        "authenticator: api_key",
        "roles:         viewer",
        "permission:    tasks:write",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    assert!(text.contains("identity:      subject=ian"), "{text}");
    let allowed = gateway.cli(&[
        "check",
        "--path",
        "/api/tasks",
        "--header",
        &format!("X-API-Key: {ian}"),
    ]);
    assert!(allowed.status.success());
    assert!(
        String::from_utf8_lossy(&allowed.stdout).contains("rate limit:    bucket default: within")
    );
}
