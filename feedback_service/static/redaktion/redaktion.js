/* The workspace without reloads where that helps: in the open queue, approving,
   rejecting and deleting post the same form in the background, take the item off
   the list and say so in the status line. Without this script the forms post and
   the server answers with a redirect to the same view. */
(function () {
  "use strict";
  var list = document.querySelector("ol.items[data-inline]");
  var status = document.getElementById("meldung");
  if (!list || !status || !window.fetch) return;

  function announce(text) {
    status.textContent = text;
  }

  function nextFocus(item) {
    var next = item.nextElementSibling || item.previousElementSibling;
    var heading = next && next.querySelector("h2");
    return heading || document.querySelector("main h1");
  }

  list.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-inline]")) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, body: body };
      });
    }).then(function (answer) {
      if (!answer.ok) {
        button.disabled = false;
        announce(answer.body.error ? answer.body.error.message : "Das ging nicht.");
        return;
      }
      var item = form.closest("li.item");
      var focus = nextFocus(item);
      item.remove();
      announce(answer.body.message);
      if (focus.tagName === "H1") focus.setAttribute("tabindex", "-1");
      focus.focus();
    }).catch(function () {
      button.disabled = false;
      announce("Keine Verbindung zum Dienst. Bitte versuchen Sie es noch einmal.");
    });
  });
})();
