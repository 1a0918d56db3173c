// Live status of the signed-in user's videos that are still processing, without reloading the page.
(function () {
  "use strict";
  var list = document.getElementById("processing");
  if (!list) return;
  var INTERVAL_MS = 1000;

  function pending() {
    return Array.prototype.filter.call(list.querySelectorAll("li[data-video-id]"), function (item) {
      var status = item.getAttribute("data-status");
      return status !== "ready" && status !== "failed";
    });
  }

  function show(item, video) {
    item.setAttribute("data-status", video.status);
    var status = item.querySelector("[data-role=status]");
    status.textContent = video.status;
    status.className = "status status-" + video.status;
    item.querySelector("[data-role=message]").textContent = video.status_message || "";
    item.querySelector("[data-role=watch]").hidden = video.status !== "ready";
  }

  function poll() {
    var items = pending();
    if (!items.length) return;
    Promise.all(items.map(function (item) {
      var id = item.getAttribute("data-video-id");
      return fetch("/api/v1/videos/" + encodeURIComponent(id), {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (video) { if (video) show(item, video); })
        .catch(function () { /* a failed poll is retried at the next tick */ });
    })).then(function () { setTimeout(poll, INTERVAL_MS); });
  }

  setTimeout(poll, INTERVAL_MS);
})();
