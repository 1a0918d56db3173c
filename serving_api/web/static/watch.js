// The watch page: start at ?t=, a transcript whose lines seek on click and follow playback; chapters seek too,
// and so do the answer's citations of this video (their links still open the page there without script).
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) return;
  var start = parseFloat(video.getAttribute("data-start") || "0") || 0;
  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript button[data-start]"));
  var current = null;

  function seek(seconds) {
    video.currentTime = seconds;
    var playing = video.play();
    if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the user presses play */ });
  }

  if (start > 0) {
    if (video.readyState >= 1) seek(start);
    else video.addEventListener("loadedmetadata", function once() {
      video.removeEventListener("loadedmetadata", once);
      seek(start);
    });
  }

  var videoId = video.getAttribute("data-video-id");
  Array.prototype.forEach.call(document.querySelectorAll(".citation a[data-start]"), function (link) {
    if (link.getAttribute("data-video-id") !== videoId) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      seek(parseFloat(link.getAttribute("data-start")));
      video.focus();
    });
  });

  var chapters = Array.prototype.slice.call(document.querySelectorAll("#chapters button[data-start]"));
  lines.concat(chapters).forEach(function (line) {
    line.addEventListener("click", function () { seek(parseFloat(line.getAttribute("data-start"))); });
  });

  function follow() {
    var t = video.currentTime, active = null;
    for (var i = 0; i < lines.length; i++) {
      if (parseFloat(lines[i].getAttribute("data-start")) <= t) active = lines[i]; else break;
    }
    if (active === current) return;
    if (current) { current.classList.remove("active"); current.removeAttribute("aria-current"); }
    current = active;
    if (current) {
      current.classList.add("active");
      current.setAttribute("aria-current", "true");
      reveal(current);
    }
  }

  // Scrolls the transcript's own panel so the line shows, never the page (scrollIntoView would move
  // every scrollable ancestor, the page included: on a phone the video would leave the screen).
  var panel = document.getElementById("transcript");
  function reveal(line) {
    var top = line.offsetTop, bottom = top + line.offsetHeight;
    if (top < panel.scrollTop || bottom > panel.scrollTop + panel.clientHeight) {
      panel.scrollTop = Math.max(0, top - (panel.clientHeight - line.offsetHeight) / 2);
    }
  }

  // A cue is shown from its start up to, not including, its end; Chromium includes the end, so after a
  // seek exactly onto a boundary where one cue ends and the next begins it showed both captions.
  // Each cue is made to end a millisecond early (once per track).
  var EPSILON = 0.001;
  function separate(track) {
    if (!track.cues || track.separated) return;
    track.separated = true;
    for (var i = 0; i < track.cues.length; i++) {
      var cue = track.cues[i];
      if (cue.endTime - cue.startTime > EPSILON) cue.endTime -= EPSILON;
    }
  }
  Array.prototype.forEach.call(video.querySelectorAll("track[kind=captions]"), function (element) {
    if (element.readyState === 2) separate(element.track);
    element.addEventListener("load", function () { separate(element.track); });
  });
  video.addEventListener("timeupdate", follow);
  video.addEventListener("seeked", follow);
})();
