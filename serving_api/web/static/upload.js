// Resumable upload with tus-js-client: progress in bytes; after a dropped connection (or a reload),
// the same file continues from the offset the server already holds.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  if (!window.tus) {
    document.getElementById("upload-status").textContent =
      "The upload client (tus-js-client) is not installed on this server: run scripts/setup.";
    document.getElementById("upload-button").disabled = true;
    return;
  }
  var csrf = document.querySelector("meta[name=csrf-token]").getAttribute("content");
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = document.getElementById("upload-button");

  function say(text) { status.textContent = text; }
  function mb(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = document.getElementById("file").files[0];
    if (!file) { say("Choose a video file first."); return; }
    var title = document.getElementById("title").value.trim() || file.name.replace(/\.[^.]+$/, "");
    button.disabled = true;
    var lastSent = 0;
    // PATCH size: a dropped connection costs at most the chunk in flight.
    var chunkBytes = parseInt(form.getAttribute("data-chunk-bytes") || "0", 10) || 5 * 1024 * 1024;
    var upload = new window.tus.Upload(file, {
      endpoint: form.getAttribute("data-endpoint"),
      chunkSize: chunkBytes,
      retryDelays: [0, 1000, 3000, 5000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      headers: {"X-CSRF-Token": csrf},
      metadata: {
        filename: file.name,
        filetype: file.type || "application/octet-stream",
        title: title,
        description: document.getElementById("description").value,
        language: document.getElementById("language").value
      },
      onProgress: function (sent, total) {
        lastSent = sent;
        var percent = total ? Math.floor(sent * 100 / total) : 0;
        progress.value = percent;
        say("Uploading: " + mb(sent) + " of " + mb(total) + " (" + percent + " %)");
      },
      onError: function (error) {
        button.disabled = false;
        var response = error && error.originalResponse;
        if (response && response.getStatus() >= 400 && response.getStatus() < 500 && response.getStatus() !== 409) {
          // Refused (not a video, too large, signed out): say why; resuming would not help.
          var reason = response.getBody();
          try { reason = JSON.parse(reason).error.message; } catch (ignored) { /* not our JSON body */ }
          say("The upload was refused: " + reason);
          progress.value = 0;  // nothing of it is kept
          return;
        }
        say("The upload stopped at " + mb(lastSent) + " of " + mb(file.size) +
            " (the connection dropped). Press Upload again to continue where it stopped.");
      },
      onSuccess: function () {
        progress.value = 100;
        say("Uploaded (100 %). Processing starts now…");
        setTimeout(function () { window.location.assign("/"); }, 1000);
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        say("Resuming the earlier upload of this file…");
      }
      upload.start();
    });
  });
})();
