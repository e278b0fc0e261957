// The token service's page: posts its message to the viewer that framed it, and to no other
// origin (the browser drops the message if the parent is not on the target origin).
(function () {
  var element = document.getElementById("message");
  var message = JSON.parse(element.dataset.message);
  var viewer = window.parent !== window ? window.parent : window.opener;
  if (viewer) {
    viewer.postMessage(message, element.dataset.target);
  }
})();
