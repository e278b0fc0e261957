use super::*;

fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[test]
fn nginx_traefik_and_envoy_forms_give_the_original_request() {
    let nginx = original_request(request(
        Method::GET,
        VERIFY_PATH,
        &[
            ("X-Original-Method", "POST"),
            ("X-Original-URI", "/api/tasks?x=1"),
        ],
    ))
    .unwrap();
    assert_eq!(
        (nginx.method(), nginx.uri().to_string().as_str()),
        (&Method::POST, "/api/tasks?x=1")
    );

    let traefik = original_request(request(
        Method::GET,
        VERIFY_PATH,
        &[
            ("X-Forwarded-Method", "DELETE"),
            ("X-Forwarded-Uri", "/api/tasks/7"),
        ],
    ))
    .unwrap();
    assert_eq!(
        (traefik.method(), traefik.uri().path()),
        (&Method::DELETE, "/api/tasks/7")
    );

    let envoy = original_request(request(
        Method::PUT,
        "/_authgate/verify/api/tasks/7?y=2",
        &[],
    ))
    .unwrap();
    assert_eq!(
        (envoy.method(), envoy.uri().to_string().as_str()),
        (&Method::PUT, "/api/tasks/7?y=2")
    );
}

#[test]
fn an_unparseable_original_is_400() {
    for headers in [
        [("X-Original-Method", "GE T"), ("X-Original-URI", "/")],
        [
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "not a uri"),
        ],
    ] {
        let rejection = original_request(request(Method::GET, VERIFY_PATH, &headers)).unwrap_err();
        assert_eq!(rejection.code, ErrorCode::MalformedRequest);
    }
}
