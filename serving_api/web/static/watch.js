// The watch page: start at ?t=, a transcript whose lines seek on click and follow playback; chapters seek too.
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
      current.scrollIntoView({block: "nearest"});
    }
  }
  video.addEventListener("timeupdate", follow);
  video.addEventListener("seeked", follow);
})();
