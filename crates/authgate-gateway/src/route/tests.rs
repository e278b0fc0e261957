use super::*;

fn route(name: &str, prefix: &str, methods: &[&str], upstream: &str, strip: bool) -> RouteConfig {
    RouteConfig {
        name: name.into(),
        path_prefix: prefix.into(),
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        upstream: upstream.into(),
        strip_prefix: strip,
        auth: vec![AuthKind::ApiKey],
        timeout: authgate_config::Duration::from_secs(1),
        rate_limit: None,
        permission: None,
        idempotency: true,
        actions: Default::default(),
        iiif: false,
    }
}

fn table() -> RouteTable {
    RouteTable::new(
        &[
            route("root", "/", &[], ECHO_UPSTREAM, false),
            route(
                "tasks",
                "/api/v1/",
                &["GET", "POST"],
                "http://127.0.0.1:9000",
                true,
            ),
            route("admin", "/api", &[], "http://127.0.0.1:9001/base/", false),
        ],
        &RateLimitConfig::default(),
    )
    .unwrap()
}

#[test]
fn the_longest_prefix_wins() {
    let table = table();
    assert_eq!(
        table.find("/api/v1/tasks", &Method::GET).unwrap().name,
        "tasks"
    );
    assert_eq!(table.find("/api/v2", &Method::GET).unwrap().name, "admin");
    assert_eq!(table.find("/api", &Method::GET).unwrap().name, "admin");
    assert_eq!(table.find("/apix", &Method::GET).unwrap().name, "root");
}

#[test]
fn a_method_outside_the_route_is_405_with_allow() {
    let rejection = table().find("/api/v1/tasks", &Method::DELETE).unwrap_err();
    assert_eq!(rejection.code, ErrorCode::MethodNotAllowed);
    assert_eq!(
        rejection.headers,
        vec![(http::header::ALLOW, HeaderValue::from_static("GET, POST"))]
    );
}

#[test]
fn no_route_is_404_and_dot_segments_are_400() {
    let only = RouteTable::new(
        &[route("tasks", "/api/", &[], ECHO_UPSTREAM, false)],
        &RateLimitConfig::default(),
    )
    .unwrap();
    assert_eq!(
        only.find("/other", &Method::GET).unwrap_err().code,
        ErrorCode::RouteNotFound
    );
    for path in ["/api/../admin", "/api/%2E%2e/x", "/api/./x"] {
        assert_eq!(
            only.find(path, &Method::GET).unwrap_err().code,
            ErrorCode::MalformedRequest,
            "{path}"
        );
    }
}

#[test]
fn upstream_paths_strip_and_prepend() {
    let table = table();
    let tasks = table.find("/api/v1/tasks/7", &Method::GET).unwrap();
    assert_eq!(tasks.upstream_path("/api/v1/tasks/7"), "/tasks/7");
    assert_eq!(tasks.upstream_path("/api/v1/"), "/");
    let admin = table.find("/api/users", &Method::GET).unwrap();
    assert_eq!(admin.upstream_path("/api/users"), "/base/api/users");
    let root = table.find("/x/y", &Method::GET).unwrap();
    assert_eq!(root.upstream_path("/x/y"), "/x/y");
}

#[test]
fn routes_count_against_their_own_bucket_or_the_default() {
    let mut own = route("tasks", "/api/", &[], ECHO_UPSTREAM, false);
    own.rate_limit = Some(RateLimitConfig {
        rpm: Some(600),
        burst: None,
    });
    let plain = route("root", "/", &[], ECHO_UPSTREAM, false);
    let default = RateLimitConfig {
        rpm: Some(60),
        burst: Some(5),
    };
    let table = RouteTable::new(&[own, plain], &default).unwrap();
    let tasks = table
        .find("/api/x", &Method::GET)
        .unwrap()
        .rate_limit
        .clone()
        .unwrap();
    assert_eq!(tasks.name, "route:tasks");
    assert_eq!(
        (tasks.quota.per_minute.get(), tasks.quota.burst.get()),
        (600, 600)
    );
    let root = table
        .find("/x", &Method::GET)
        .unwrap()
        .rate_limit
        .clone()
        .unwrap();
    assert_eq!(root.name, "default");
    assert_eq!(
        (root.quota.per_minute.get(), root.quota.burst.get()),
        (60, 5)
    );
    let unlimited = RouteTable::new(
        &[route("root", "/", &[], ECHO_UPSTREAM, false)],
        &RateLimitConfig::default(),
    )
    .unwrap();
    assert!(
        unlimited
            .find("/", &Method::GET)
            .unwrap()
            .rate_limit
            .is_none()
    );
}

#[test]
fn methods_map_to_read_write_or_the_route_s_own_actions() {
    let mut tasks = route("tasks", "/api/", &[], ECHO_UPSTREAM, false);
    tasks.permission = Some("tasks".into());
    tasks.actions.insert("DELETE".into(), "delete".into());
    let open = route("open", "/", &[], ECHO_UPSTREAM, false);
    let table = RouteTable::new(&[tasks, open], &RateLimitConfig::default()).unwrap();
    let tasks = table.find("/api/x", &Method::GET).unwrap();
    let required = |m: Method| tasks.required_permission(&m).map(ToString::to_string);
    assert_eq!(required(Method::GET).as_deref(), Some("tasks:read"));
    assert_eq!(required(Method::HEAD).as_deref(), Some("tasks:read"));
    assert_eq!(required(Method::OPTIONS).as_deref(), Some("tasks:read"));
    assert_eq!(required(Method::POST).as_deref(), Some("tasks:write"));
    assert_eq!(required(Method::PATCH).as_deref(), Some("tasks:write"));
    assert_eq!(required(Method::DELETE).as_deref(), Some("tasks:delete"));
    let open = table.find("/x", &Method::POST).unwrap();
    assert!(open.required_permission(&Method::POST).is_none());
}

#[test]
fn a_worker_s_copy_has_routes_and_buckets_of_its_own() {
    let limited = RateLimitConfig {
        rpm: Some(60),
        burst: None,
    };
    let shared = RouteTable::new(
        &[
            route("tasks", "/tasks", &[], ECHO_UPSTREAM, false),
            route("notes", "/notes", &[], ECHO_UPSTREAM, false),
            route("files", "/files", &["GET"], "http://127.0.0.1:9000", false),
        ],
        &limited,
    )
    .unwrap();
    let copy = shared.for_worker();
    let find = |table: &RouteTable, path| table.find(path, &Method::GET).unwrap().clone();
    let (tasks, notes) = (find(&copy, "/tasks"), find(&copy, "/notes"));
    assert!(!Arc::ptr_eq(&tasks, &find(&shared, "/tasks")));
    assert_eq!(tasks.name, "tasks");
    let bucket = |route: &Route| route.rate_limit.clone().unwrap();
    assert!(
        Arc::ptr_eq(&bucket(&tasks), &bucket(&notes)),
        "routes that shared the default bucket still share one"
    );
    assert!(!Arc::ptr_eq(
        &bucket(&tasks),
        &bucket(&find(&shared, "/tasks"))
    ));
    assert_eq!(bucket(&tasks).quota, bucket(&find(&shared, "/tasks")).quota);
    // Header values and the authority are copied too, not shared with the original.
    let upstream = |route: &Route| match &route.upstream {
        Upstream::Http {
            authority, host, ..
        } => (authority.clone(), host.clone()),
        Upstream::Echo | Upstream::IiifDemo => panic!("an HTTP upstream"),
    };
    let ((copied_authority, copied_host), (authority, host)) = (
        upstream(&find(&copy, "/files")),
        upstream(&find(&shared, "/files")),
    );
    assert_eq!((&copied_authority, &copied_host), (&authority, &host));
    assert_ne!(copied_host.as_bytes().as_ptr(), host.as_bytes().as_ptr());
    assert_ne!(
        copied_authority.as_str().as_ptr(),
        authority.as_str().as_ptr()
    );
}
