// My videos: edit a title and description in place, delete after a confirmation, retry a failed video.
// Every change goes through the JSON API with the session cookie and this page's CSRF token.
(function () {
  "use strict";
  var list = document.getElementById("my-videos");
  if (!list) return;
  var csrf = document.querySelector("meta[name=csrf-token]").getAttribute("content");
  var dialog = document.getElementById("confirm-delete");

  function role(item, name) { return item.querySelector("[data-role=" + name + "]"); }

  function api(method, id, path, body) {
    var headers = {"X-CSRF-Token": csrf};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch("/api/v1/videos/" + encodeURIComponent(id) + path, {
      method: method, credentials: "same-origin", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) return response.status === 204 ? null : response.json();
      return response.json().catch(function () { return null; }).then(function (error) {
        throw new Error(error && error.error ? error.error.message : "The server answered " + response.status + ".");
      });
    });
  }

  function editing(item, open) {
    var form = role(item, "edit");
    form.hidden = !open;
    var button = item.querySelector("[data-action=edit]");
    button.setAttribute("aria-expanded", String(open));
    if (open) form.querySelector("input").focus(); else button.focus();
  }

  function fail(item, error) { role(item, "error").textContent = error.message; }

  function remove(item) {
    var next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    if (!list.querySelector("li")) {
      var empty = document.createElement("p");
      empty.textContent = "You have no videos left.";
      list.replaceWith(empty);
      return;
    }
    var focus = next && next.querySelector("[data-action=edit]");
    if (focus) focus.focus();
  }

  function confirmDelete(item) {
    dialog.querySelector("[data-role=title]").textContent = role(item, "title").textContent;
    dialog.returnValue = "";
    dialog.addEventListener("close", function closed() {
      dialog.removeEventListener("close", closed);
      if (dialog.returnValue !== "delete") { item.querySelector("[data-action=delete]").focus(); return; }
      api("DELETE", item.getAttribute("data-video-id"), "").then(function () { remove(item); },
        function (error) { fail(item, error); });
    });
    dialog.showModal();
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var item = button.closest("li[data-video-id]");
    var id = item.getAttribute("data-video-id");
    role(item, "error").textContent = "";
    var action = button.getAttribute("data-action");
    if (action === "edit") editing(item, role(item, "edit").hidden);
    else if (action === "cancel") editing(item, false);
    else if (action === "delete") confirmDelete(item);
    else if (action === "retry") {
      button.disabled = true;
      api("POST", id, "/retry").then(function (video) {
        button.disabled = false;
        button.hidden = true;
        item.setAttribute("data-status", video.status);  // the live status takes it from here
        role(item, "status").textContent = video.status;
        role(item, "status").className = "status status-" + video.status;
        role(item, "message").textContent = video.status_message || "";
      }, function (error) { button.disabled = false; fail(item, error); });
    }
  });

  list.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var item = form.closest("li[data-video-id]");
    var changes = {title: form.elements.title.value.trim(), description: form.elements.description.value};
    api("PATCH", item.getAttribute("data-video-id"), "", changes).then(function (video) {
      role(item, "title").textContent = video.title;
      role(item, "description").textContent = video.description;
      editing(item, false);
    }, function (error) { fail(item, error); });
  });
})();
