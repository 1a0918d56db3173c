// Pages that follow the pipeline without a reload: each video still being processed shows its status,
// progress and reason as they change (and its live rendition once it streams), and a list of ready
// videos (data-live-list) is rendered again by the server when the videos it would show change.
(function () {
  "use strict";
  var TICK_MS = 1000;
  var LIST_EVERY_TICKS = 3;
  var tick = 0;

  function settled(status) { return status === "ready" || status === "failed"; }
  function role(item, name) { return item.querySelector("[data-role=" + name + "]"); }

  function following() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-stages] li[data-video-id]"), function (item) {
      return !settled(item.getAttribute("data-status"));
    });
  }

  function setHidden(element, hidden) { if (element) element.hidden = hidden; }

  function show(item, video) {
    var before = item.getAttribute("data-status");
    var stages = item.closest("[data-stages]").getAttribute("data-stages").split(" ");
    item.setAttribute("data-status", video.status);
    var status = role(item, "status");
    status.textContent = video.status;
    status.className = "status status-" + video.status;
    role(item, "message").textContent = video.status_message || "";
    var progress = role(item, "progress");
    if (progress) {
      progress.value = stages.indexOf(video.status) + 1;
      progress.hidden = settled(video.status);
    }
    setHidden(role(item, "live"), !(video.playable && video.status !== "ready"));
    setHidden(role(item, "watch"), video.status !== "ready");
    setHidden(item.querySelector("[data-action=retry]"), video.status !== "failed");
    var thumbnail = role(item, "thumbnail");
    if (thumbnail && settled(video.status)) {
      thumbnail.src = video.status === "ready" && video.has_thumbnail
        ? "/api/v1/videos/" + video.id + "/thumbnail" : "/static/placeholder-failed.svg";
    }
    var player = document.getElementById("live-player");
    if (player && player.hidden && video.playable) playLive(player);
    if (before !== video.status) {
      item.dispatchEvent(new CustomEvent("videoai:status", {bubbles: true, detail: video}));
      if (video.status === "ready") refreshLists();
    }
  }

  // The live rendition's playlist grows while it is encoded (an HLS EVENT playlist): hls.js plays it
  // through Media Source Extensions, since a native HLS player may take only finished (VOD) playlists.
  function playLive(player) {
    var element = player.querySelector("video");
    var source = element.getAttribute("data-src");
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls();
      hls.loadSource(source);
      hls.attachMedia(element);
    } else {
      element.src = source;
    }
    player.hidden = false;
  }

  function pollVideos() {
    return Promise.all(following().map(function (item) {
      var id = item.getAttribute("data-video-id");
      return fetch("/api/v1/videos/" + encodeURIComponent(id), {credentials: "same-origin"})
        .then(function (response) {
          if (response.status === 404) item.setAttribute("data-status", "gone");
          return response.ok ? response.json() : null;
        })
        .then(function (video) { if (video) show(item, video); })
        .catch(function () { /* a failed poll is retried at the next tick */ });
    }));
  }

  // The server renders the new list; only the ids it would show are compared here.
  function refreshLists() {
    var lists = document.querySelectorAll("[data-live-list]");
    return Promise.all(Array.prototype.map.call(lists, function (list) {
      return fetch(list.getAttribute("data-live-list"), {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (page) {
          if (!page) return null;
          var ids = page.items.map(function (video) { return video.id; }).join(" ");
          if (ids === list.getAttribute("data-ids")) return null;
          return fetch(window.location.href, {credentials: "same-origin"})
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (html) {
              var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById(list.id);
              if (fresh) list.replaceWith(document.adoptNode(fresh));
            });
        })
        .catch(function () { /* retried at the next round */ });
    }));
  }

  function loop() {
    tick += 1;
    var work = [];
    if (!document.hidden) {
      work.push(pollVideos());
      if (tick % LIST_EVERY_TICKS === 0) work.push(refreshLists());
    }
    Promise.all(work).then(function () { setTimeout(loop, TICK_MS); });
  }

  var player = document.getElementById("live-player");
  if (player && !player.hidden) playLive(player);
  setTimeout(loop, TICK_MS);
})();
