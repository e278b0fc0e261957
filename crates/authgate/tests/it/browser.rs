//! The web admin UI in a real browser: headless Chromium (Debian's `chromium`) driven through
//! chromedriver by fantoccini (WebDriver). An operator signs in, creates an application, makes a
//! key and reads it from the page, calls the gateway with it, suspends and resumes the
//! application, issues an access token, finds all of it in the audit log; a form posted without
//! its CSRF token is refused. Each main page is saved as a screenshot under
//! `target/ui-screenshots/` and checked by axe-core for serious or critical accessibility
//! violations, at desktop and at phone width. A reader runs the IIIF demo: probe, sign-in
//! window, token frame, probe, image; a page of an origin not allowed gets `invalidOrigin`; after
//! logout the probe says 401 again. And from a viewer on another site (`localhost` against
//! `127.0.0.1`), where the cookie travels as a third-party cookie.

use crate::harness::{Gateway, eventually, reserve_port};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// chromedriver on a port of its own, killed with the test together with the browsers it
/// started (in its process group), which would otherwise outlive it: every run left its
/// Chromium processes behind, 10 GB of them on a machine after a day's runs.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start_driver() -> Driver {
    let reserved = reserve_port();
    let port = reserved.port;
    drop(reserved);
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let status = format!("{}/status", driver.url);
    let ready = eventually(Duration::from_secs(20), || {
        let status = status.clone();
        async move {
            reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    assert!(ready.is_some(), "chromedriver did not start");
    driver
}

async fn browser(driver: &Driver) -> Client {
    browser_with(driver, &[]).await
}

/// A browser started with `extra` arguments besides the usual ones.
async fn browser_with(driver: &Driver, extra: &[String]) -> Client {
    // No sandbox: CI runs as root, where Chromium's sandbox cannot start.
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend_from_slice(extra);
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Saves a screenshot of what the browser shows as `target/ui-screenshots/NAME.png`.
async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    let dir = workspace().join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Runs axe-core on the page; returns its serious and critical violations, described.
async fn accessibility_violations(browser: &Client) -> Vec<String> {
    let axe = workspace().join("target/test-node/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe)
        .unwrap_or_else(|_| panic!("{} (scripts/test.sh installs it from npm)", axe.display()));
    browser.execute(&source, Vec::new()).await.unwrap();
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(results => done(
               results.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)));",
            Vec::new(),
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// Screenshot and accessibility check of the page the browser is on.
async fn check_page(browser: &Client, name: &str) {
    screenshot(browser, name).await;
    let violations = accessibility_violations(browser).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks what `css` finds and waits until the browser has loaded the page that follows (every
/// click here is a link or a form's button): chromedriver may answer a click that submits a form
/// before the next page replaces this one, and what is read next must come from the new page.
async fn click(browser: &Client, css: &str) {
    let element = browser.find(Locator::Css(css)).await.unwrap();
    element.click().await.unwrap();
    let left = eventually(Duration::from_secs(10), || {
        let element = element.clone();
        // Once the page is replaced, the clicked element is stale and every call on it fails.
        async move { element.tag_name().await.is_err() }
    })
    .await;
    assert!(
        left.is_some(),
        "clicking {css} did not lead to another page"
    );
    let loaded = eventually(Duration::from_secs(10), || async {
        browser
            .execute("return document.readyState", Vec::new())
            .await
            .is_ok_and(|state| state == "complete")
    })
    .await;
    assert!(
        loaded.is_some(),
        "the page after clicking {css} did not load"
    );
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn status_with_key(gateway: &Gateway, key: &str) -> StatusCode {
    gateway.get_with_key("/browser-test", key).await.status()
}

#[tokio::test]
async fn an_operator_runs_an_application_s_whole_life_in_chromium() {
    let gateway = Gateway::start_public("");
    gateway.user("ann", "correct horse battery staple", "admin");
    let driver = start_driver().await;
    let browser = browser(&driver).await;
    let console = |path: &str| gateway.admin_url(path);

    // Sign in.
    browser.goto(&console("/")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/sign-in");
    check_page(&browser, "sign-in").await;
    fill(&browser, "#username", "ann").await;
    fill(&browser, "#password", "correct horse battery staple").await;
    click(&browser, "main form button[type=submit]").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    assert_eq!(text_of(&browser, "h1").await, "Dashboard");

    // Create an application.
    click(&browser, "nav a[href='/applications']").await;
    assert!(
        text_of(&browser, "main")
            .await
            .contains("No applications yet")
    );
    fill(&browser, "#name", "billing").await;
    fill(&browser, "#roles", "viewer").await;
    click(
        &browser,
        "form[method=post][action='/applications'] button[type=submit]",
    )
    .await;
    let app_path = browser.current_url().await.unwrap().path().to_owned();
    assert!(app_path.starts_with("/applications/app_"), "{app_path}");
    assert!(
        text_of(&browser, ".notice")
            .await
            .contains("Application billing created.")
    );

    // Generate a key and read it from the page.
    fill(&browser, "#key-name", "ci").await;
    click(&browser, "form[action$='/keys'] button[type=submit]").await;
    assert_eq!(text_of(&browser, "h1").await, "Key created");
    assert!(
        text_of(&browser, ".warning")
            .await
            .contains("only time the key is shown")
    );
    check_page(&browser, "key-created").await;
    let key = browser
        .find(Locator::Id("secret"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("sk_live_"), "{key}");
    assert_eq!(status_with_key(&gateway, &key).await, StatusCode::OK);

    // Suspend: the gateway refuses the key within a second.
    browser.goto(&console(&app_path)).await.unwrap();
    check_page(&browser, "application").await;
    click(&browser, "a[href$='/confirm/suspend']").await;
    assert!(
        text_of(&browser, "h1")
            .await
            .contains("Suspend application billing?")
    );
    check_page(&browser, "confirm-suspend").await;
    click(&browser, "main form button[type=submit].danger").await;
    let refused = eventually(Duration::from_secs(1), || async {
        status_with_key(&gateway, &key).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        refused.is_some(),
        "the key still works a second after the suspension"
    );
    assert_eq!(
        text_of(&browser, ".notice").await,
        "Application billing suspended: its 1 key is refused from now on."
    );
    assert_eq!(text_of(&browser, "h1 .badge").await, "suspended");

    // Resume: it works again.
    click(&browser, "a[href$='/confirm/resume']").await;
    click(&browser, "main form button[type=submit]").await;
    let allowed = eventually(Duration::from_secs(1), || async {
        status_with_key(&gateway, &key).await == StatusCode::OK
    })
    .await;
    assert!(allowed.is_some());
    assert_eq!(
        text_of(&browser, ".notice").await,
        "Application billing resumed: its 1 key works again."
    );
    assert_eq!(text_of(&browser, "h1 .badge").await, "active");

    // Issue an access token and call the gateway with it.
    click(&browser, "form[action$='/tokens'] button[type=submit]").await;
    assert_eq!(text_of(&browser, "h1").await, "Access token issued");
    let token = browser
        .find(Locator::Id("secret"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let with_token = gateway
        .with_bearer(reqwest::Method::GET, "/browser-test", &token)
        .await;
    assert_eq!(with_token.status(), StatusCode::OK);

    // The audit log has every one of these, by ann, from the browser's address.
    browser.goto(&console("/audit")).await.unwrap();
    let log = text_of(&browser, "main table").await;
    for action in [
        "session.sign_in",
        "application.create",
        "key.create",
        "application.suspend",
        "application.resume",
        "application.issue_token",
    ] {
        assert!(log.contains(action), "{action} missing from:\n{log}");
    }
    assert!(
        !log.contains(&key) && !log.contains(&token),
        "no secret in the log"
    );
    check_page(&browser, "audit").await;
    fill(&browser, "#action", "application.suspend").await;
    click(&browser, "form.filters button[type=submit]").await;
    let filtered = text_of(&browser, "main table tbody").await;
    assert_eq!(filtered.lines().count(), 1, "{filtered}");

    // The other main pages.
    for (path, name) in [
        ("/", "dashboard"),
        ("/applications", "applications"),
        ("/users", "users"),
        ("/roles", "roles"),
        ("/signing-keys", "signing-keys"),
    ] {
        browser.goto(&console(path)).await.unwrap();
        check_page(&browser, name).await;
    }

    // A form posted without its CSRF token is refused, and changes nothing.
    browser.goto(&console("/applications")).await.unwrap();
    browser
        .execute(
            "document.querySelector(\"form[action='/applications'] input[name=csrf]\").remove()",
            Vec::new(),
        )
        .await
        .unwrap();
    fill(&browser, "#name", "forged").await;
    click(
        &browser,
        "form[method=post][action='/applications'] button[type=submit]",
    )
    .await;
    assert!(
        text_of(&browser, "main")
            .await
            .contains("could not be verified")
    );
    let apps = gateway.json(&["apps", "list"]);
    assert_eq!(
        apps.as_array().unwrap().len(),
        1,
        "no application was created"
    );

    // At phone width the pages fit: nothing but a table's own box scrolls sideways.
    browser.set_window_size(390, 844).await.unwrap();
    for (path, name) in [
        ("/", "dashboard-phone"),
        (app_path.as_str(), "application-phone"),
        ("/audit", "audit-phone"),
    ] {
        browser.goto(&console(path)).await.unwrap();
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                Vec::new(),
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{name} scrolls sideways by {overflow} px"
        );
        check_page(&browser, name).await;
    }

    // Sign out: the console asks to sign in again.
    click(&browser, "form.who button[type=submit]").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/sign-in");
    assert!(
        text_of(&browser, ".notice")
            .await
            .contains("You have signed out.")
    );
    browser.close().await.unwrap();
}

/// Clicks a button that runs a script rather than loading a page.
async fn press(browser: &Client, css: &str) {
    let button = browser.find(Locator::Css(css)).await.unwrap();
    button.click().await.unwrap();
}

/// Waits until the element `css` finds has attribute `name` equal to `value`.
async fn wait_for_attribute(browser: &Client, css: &str, name: &str, value: &str) {
    let seen = eventually(Duration::from_secs(15), || async {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => element.attr(name).await.ok().flatten().as_deref() == Some(value),
            Err(_) => false,
        }
    })
    .await;
    assert!(
        seen.is_some(),
        "{css} never had {name}={value}; the page says:\n{}",
        text_of(browser, "main").await
    );
}

/// Waits until the browser has `count` windows; returns their handles.
async fn windows(browser: &Client, count: usize) -> Vec<fantoccini::wd::WindowHandle> {
    let appeared = eventually(Duration::from_secs(15), || async {
        browser.windows().await.is_ok_and(|w| w.len() == count)
    })
    .await;
    assert!(appeared.is_some(), "the browser never had {count} windows");
    browser.windows().await.unwrap()
}

/// On the demo page (window `demo`), after the probe said 401: presses its sign-in button,
/// signs in as `user` in the access window it opens, and waits until that window has closed
/// itself.
async fn sign_in_through_the_demo(
    browser: &Client,
    demo: &fantoccini::wd::WindowHandle,
    user: (&str, &str),
) {
    press(browser, "#sign-in").await;
    let opened = windows(browser, 2).await;
    let access = opened.into_iter().find(|w| w != demo).unwrap();
    browser.switch_to_window(access).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/iiif/access");
    fill(browser, "#username", user.0).await;
    fill(browser, "#password", user.1).await;
    press(browser, "button[type=submit]").await;
    let closed = eventually(Duration::from_secs(15), || async {
        browser.windows().await.is_ok_and(|w| w.len() == 1)
    })
    .await;
    assert!(
        closed.is_some(),
        "the access window stayed open, showing:\n{}",
        text_of(browser, "body").await
    );
    browser.switch_to_window(demo.clone()).await.unwrap();
}

/// Waits until the demo's protected image has loaded at its full width.
async fn demo_image_loaded(browser: &Client) -> bool {
    eventually(Duration::from_secs(10), || async {
        browser
            .execute(
                "const image = document.getElementById('protected-image');
                 return image !== null && image.complete && image.naturalWidth;",
                Vec::new(),
            )
            .await
            .is_ok_and(|width| width == json!(1024))
    })
    .await
    .is_some()
}

#[tokio::test]
async fn a_viewer_opens_the_iiif_demo_image_after_signing_in() {
    let gateway = Gateway::start_public("");
    gateway.user("reader", "reading-room", "viewer");
    let driver = start_driver().await;
    let browser = browser(&driver).await;
    let port = gateway.addr.port();

    // The demo page runs the client: info.json and the probe say 401.
    browser.goto(&gateway.url("/iiif/demo")).await.unwrap();
    check_page(&browser, "iiif-demo").await;
    let demo = browser.window().await.unwrap();
    press(&browser, "#start").await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "401").await;
    assert_eq!(text_of(&browser, "#sign-in").await, "Sign in");

    // Its button opens the access service in a window of its own, for this page's origin;
    // signing in there closes it.
    let origin = format!("http://127.0.0.1:{port}");
    press(&browser, "#sign-in").await;
    let opened = windows(&browser, 2).await;
    let access = opened.into_iter().find(|w| *w != demo).unwrap();
    browser.switch_to_window(access).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(
        url.query_pairs()
            .find(|(k, _)| k == "origin")
            .map(|(_, v)| v.into_owned()),
        Some(origin.clone())
    );
    check_page(&browser, "iiif-access").await;
    // Closed without signing in: the token service finds no cookie.
    browser.close_window().await.unwrap();
    browser.switch_to_window(demo.clone()).await.unwrap();
    wait_for_attribute(&browser, "#probe-status", "data-error", "missingAspect").await;
    sign_in_through_the_demo(&browser, &demo, ("reader", "reading-room")).await;

    // The token message arrives, the probe says 200, and the image loads with the cookie.
    wait_for_attribute(&browser, "#probe-status", "data-status", "200").await;
    let steps = text_of(&browser, "#steps").await;
    assert!(steps.contains("Token service: a token for"), "{steps}");
    assert!(
        demo_image_loaded(&browser).await,
        "the image did not load: {steps}"
    );
    check_page(&browser, "iiif-demo-signed-in").await;

    // A page of an origin that may not receive tokens gets invalidOrigin, posted to it.
    // `localhost` is another origin (and site) than `127.0.0.1`.
    browser
        .goto(&format!("http://localhost:{port}/iiif/demo"))
        .await
        .unwrap();
    let message = browser
        .execute_async(
            "const [tokenService, done] = arguments;
             window.addEventListener('message', event => done(event.data));
             const frame = document.createElement('iframe');
             frame.hidden = true;
             frame.src = tokenService + '?messageId=foreign&origin=' + encodeURIComponent(location.origin);
             document.body.appendChild(frame);",
            vec![json!(format!("{origin}/iiif/token"))],
        )
        .await
        .unwrap();
    assert_eq!(message["type"], "AuthAccessTokenError2", "{message}");
    assert_eq!(message["profile"], "invalidOrigin");
    assert_eq!(message["messageId"], "foreign");

    // Signing out (in its own window, which closes) makes the probe say 401 again.
    browser.goto(&gateway.url("/iiif/demo")).await.unwrap();
    press(&browser, "#start").await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "401").await;
    press(&browser, "#sign-in").await;
    windows(&browser, 1).await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "200").await;
    press(&browser, "#sign-out").await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "401").await;
    let steps = text_of(&browser, "#steps").await;
    assert!(steps.contains("Opening the logout service"), "{steps}");
}

#[tokio::test]
async fn a_viewer_on_another_site_opens_the_iiif_image_with_the_cookie() {
    // The viewer's page is on `localhost`, authgate on `127.0.0.1`: two sites, so the token
    // frame and the image are third-party requests, which carry the access cookie only because
    // it is `SameSite=None; Secure` and the reader allows third-party cookies (a fresh profile
    // does not: IIIF Auth 2.0 Appendix A).
    let reserved = reserve_port();
    let port = reserved.port;
    let public = format!("http://127.0.0.1:{port}");
    let viewer = format!("http://localhost:{port}");
    let gateway = Gateway::start_with_env(
        "",
        &[
            (
                "AUTHGATE_SERVER__LISTEN",
                format!("127.0.0.1:{port}").as_str(),
            ),
            ("AUTHGATE_SERVER__PUBLIC_URL", public.as_str()),
            (
                "AUTHGATE_IIIF__ALLOWED_ORIGINS",
                format!("[\"{public}\", \"{viewer}\"]").as_str(),
            ),
        ],
    );
    drop(reserved);
    gateway.user("reader", "reading-room", "viewer");
    let profile = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(profile.path().join("Default")).unwrap();
    std::fs::write(
        profile.path().join("Default/Preferences"),
        r#"{"profile":{"cookie_controls_mode":0}}"#,
    )
    .unwrap();
    let driver = start_driver().await;
    let browser = browser_with(
        &driver,
        &[format!("--user-data-dir={}", profile.path().display())],
    )
    .await;

    browser.goto(&format!("{viewer}/iiif/demo")).await.unwrap();
    let demo = browser.window().await.unwrap();
    press(&browser, "#start").await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "401").await;
    sign_in_through_the_demo(&browser, &demo, ("reader", "reading-room")).await;
    wait_for_attribute(&browser, "#probe-status", "data-status", "200").await;
    let steps = text_of(&browser, "#steps").await;
    assert!(
        demo_image_loaded(&browser).await,
        "the image did not load: {steps}"
    );
}
