// A IIIF Authorization Flow 2.0 client (spec §7.1), as small as it can be: probe → access
// window → token frame → probe → image. It reads its image service from `#demo[data-info]`, so
// the same script can run on a page of another site.
(function () {
  "use strict";
  var root = document.getElementById("demo");
  var infoUrl = root.dataset.info;
  var steps = document.getElementById("steps");
  var status = document.getElementById("probe-status");
  var prompt = document.getElementById("prompt");
  var signIn = document.getElementById("sign-in");
  var signOut = document.getElementById("sign-out");
  var viewer = document.getElementById("viewer");
  // The image service's id: where its image requests go.
  var imageService = infoUrl.replace(/\/info\.json$/, "");
  var probe = null;
  var token = null;

  function step(text) {
    var item = document.createElement("li");
    item.textContent = text;
    steps.appendChild(item);
  }

  function text(map) {
    if (!map) return "";
    var values = map.en || map.none || Object.values(map)[0] || [];
    return values.join(" ");
  }

  function find(services, type) {
    return [].concat(services || []).filter(function (s) { return s.type === type; })[0];
  }

  function access() { return find(probe.service, "AuthAccessService2"); }

  async function askProbe() {
    var headers = token ? { Authorization: "Bearer " + token } : {};
    var result = await (await fetch(probe.id, { headers: headers })).json();
    status.textContent = "Probe says " + result.status + ".";
    status.dataset.status = String(result.status);
    step("Probe " + (token ? "with the token" : "without a token") + ": status " + result.status);
    return result;
  }

  function showImage() {
    prompt.hidden = true;
    var image = new Image();
    image.alt = "The protected sample image";
    image.id = "protected-image";
    image.onload = function () { step("Image loaded (" + image.naturalWidth + "×" + image.naturalHeight + ")"); };
    image.onerror = function () { step("The image did not load"); };
    image.src = imageService + "/full/max/0/default.jpg";
    viewer.replaceChildren(image);
    signOut.hidden = false;
  }

  function ask(result) {
    var service = access();
    document.getElementById("prompt-heading").textContent =
      text(result.heading) || text(service.heading);
    document.getElementById("prompt-note").textContent = text(result.note) || text(service.note);
    signIn.textContent = text(service.confirmLabel) || "Sign in";
    prompt.hidden = false;
    viewer.replaceChildren();
  }

  function closed(win) {
    return new Promise(function (resolve) {
      var timer = setInterval(function () {
        if (!win || win.closed) { clearInterval(timer); resolve(); }
      }, 500);
    });
  }

  function requestToken(service) {
    return new Promise(function (resolve) {
      var messageId = String(Math.random()).slice(2);
      var frame = document.createElement("iframe");
      frame.hidden = true;
      function received(event) {
        if (!event.data || event.data.messageId !== messageId) return;
        window.removeEventListener("message", received);
        frame.remove();
        resolve(event.data);
      }
      window.addEventListener("message", received);
      frame.src = service.id + "?messageId=" + messageId + "&origin=" + encodeURIComponent(location.origin);
      document.body.appendChild(frame);
    });
  }

  async function start() {
    step("Fetching " + infoUrl);
    var response = await fetch(infoUrl);
    var body = await response.json();
    step("info.json: HTTP " + response.status);
    probe = find(body.service, "AuthProbeService2");
    if (!probe) { step("No probe service: nothing to do"); return; }
    var result = await askProbe();
    if (result.status === 200) { showImage(); } else { ask(result); }
  }

  signIn.addEventListener("click", async function () {
    var service = access();
    step("Opening the access service");
    var win = window.open(service.id + "?origin=" + encodeURIComponent(location.origin));
    await closed(win);
    step("The access window closed; asking the token service");
    var message = await requestToken(find(service.service, "AuthAccessTokenService2"));
    if (message.type === "AuthAccessTokenError2") {
      status.textContent = "Token error: " + message.profile + ". " + text(message.heading);
      status.dataset.error = message.profile;
      step("Token service: " + message.profile);
      return;
    }
    token = message.accessToken;
    step("Token service: a token for " + message.expiresIn + " s");
    var result = await askProbe();
    if (result.status === 200) { showImage(); } else { ask(result); }
  });

  signOut.addEventListener("click", async function () {
    var logout = find(access().service, "AuthLogoutService2");
    step("Opening the logout service");
    await closed(window.open(logout.id));
    token = null;
    signOut.hidden = true;
    var result = await askProbe();
    if (result.status !== 200) ask(result);
  });

  document.getElementById("start").addEventListener("click", start);
})();
