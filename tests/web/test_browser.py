"""The viewer web app in headless Chromium, on a real clip with speech and the real pipeline.

sign up → upload through the page (progress to 100 %) → status reaches ready on the page without a
reload → watch plays through HLS, captions have cues, a transcript click seeks → search a spoken
word → its moment opens the watch page playing within 1 s of when the word is spoken. And an
upload interrupted mid-file resumes without re-sending what the server already holds.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from faster_whisper import WhisperModel

from orchestration.demo import DEMO_SEARCH_WORD
from pipeline import samples, speech_models
from pipeline.samples import DEFAULT_KEYWORDS
from tests.web.helpers import PASSWORD, settle, shot, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Markup in a title must show as text and run nothing, on every page that shows it.
HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Volcano talk'
# Records where the first playback of a page started: the <video> fires `playing` (capture phase).
FIRST_PLAYING = """
document.addEventListener('playing', (event) => {
  if (window.__firstPlaying === undefined) window.__firstPlaying = event.target.currentTime;
}, true);
window.__mediaErrors = [];
document.addEventListener('error', (event) => {
  if (event.target && event.target.tagName === 'VIDEO') window.__mediaErrors.push(event.target.error && event.target.error.code);
}, true);
"""


def spoken_at(clip: Path, word: str, model: str) -> float:
    """When `word` is spoken in the clip, by faster-whisper's word-level timestamps (the ground truth)."""
    model = WhisperModel(speech_models.model_path(model), device="cpu", compute_type="int8")
    segments, _ = model.transcribe(str(clip), word_timestamps=True, beam_size=1)
    for segment in segments:
        for spoken in segment.words or []:
            if word in spoken.word.lower():
                return spoken.start
    raise AssertionError(f"{word!r} is not spoken in {clip}")


def _not_pwned(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script:not([src])").count() == 0  # no inline script made it into the page


def test_sign_up_upload_watch_and_search_to_the_spoken_moment(
    live_platform, browser, screenshots, speech_video_path, module_harness
):
    live, worker = live_platform
    base = live.url
    # bypass_csp: Playwright's waits evaluate strings, which the pages' CSP forbids. It also means
    # the markup title below is kept inert by escaping alone, not by the CSP.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.add_init_script(FIRST_PLAYING)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        email = sign_up(page, base, screenshots)
        cookie = next(c for c in context.cookies() if c["name"] == "videoai_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # Upload through the page: the progress bar reaches 100 %.
        page.goto(f"{base}/upload")
        page.set_input_files("#file", str(speech_video_path))
        page.fill("#title", HOSTILE_TITLE)
        page.fill("#description", "Spoken words about a volcano.")
        shot(page, screenshots, "upload")
        page.click("#upload-button")
        page.wait_for_function("document.getElementById('upload-progress').value === 100")
        assert "100 %" in page.locator("#upload-status").inner_text()
        shot(page, screenshots, "upload-done")
        assert not any(c["value"] in page.url for c in context.cookies())  # the token is never in a URL

        # Home: the video's status goes to ready on the page, without a reload.
        page.wait_for_url(f"{base}/")
        page.evaluate("window.__sameDocument = true")
        item = page.locator("#processing li").first
        assert item.locator(".title").inner_text() == HOSTILE_TITLE  # shown as text
        seen = set()
        deadline = time.monotonic() + 240
        while (status := item.get_attribute("data-status")) not in ("ready", "failed"):
            seen.add(status)
            assert time.monotonic() < deadline, f"still {status}; pipeline errors: {worker.errors}"
            time.sleep(0.2)
        assert status == "ready", item.locator("[data-role=message]").inner_text()
        assert page.evaluate("window.__sameDocument") is True  # the same document: no reload happened
        assert item.locator("[data-role=status]").inner_text() == "ready"
        shot(page, screenshots, "home-ready")
        _not_pwned(page)

        # Watch: HLS plays (currentTime advances, no media error); captions have cues.
        item.locator("[data-role=watch]").click()
        page.wait_for_url(f"{base}/watch/*")
        page.wait_for_function("document.getElementById('player').readyState >= 1")
        assert page.evaluate("document.getElementById('player').currentSrc").endswith("/hls/master.m3u8")
        page.evaluate("document.getElementById('player').muted = true; document.getElementById('player').play()")
        page.wait_for_function("document.getElementById('player').currentTime > 1.5", timeout=30_000)
        assert page.evaluate("document.getElementById('player').error") is None
        assert page.evaluate("window.__mediaErrors") == []
        page.wait_for_function(
            "(() => { const t = document.getElementById('player').textTracks[0]; return t && t.cues && t.cues.length > 0; })()"
        )
        cues = page.evaluate("Array.from(document.getElementById('player').textTracks[0].cues).map(c => c.text)")
        assert any(word in " ".join(cues).lower() for word in DEFAULT_KEYWORDS), cues
        assert page.locator("#summary").inner_text().count(".") >= 4
        assert page.locator("h1").first.inner_text() == HOSTILE_TITLE
        _not_pwned(page)
        shot(page, screenshots, "watch")

        # The transcript is keyboard usable: Enter on a focused line seeks there too.
        keyed = page.locator("#transcript button").nth(1)
        keyed.focus()
        page.keyboard.press("Enter")
        keyed_at = float(keyed.get_attribute("data-start"))
        page.wait_for_function(
            f"(() => {{ const v = document.getElementById('player');"
            f" return !v.seeking && v.currentTime >= {keyed_at} && v.currentTime < {keyed_at} + 2; }})()"
        )

        # A click on a transcript line seeks there, and the line becomes the current one.
        line = page.locator("#transcript button").nth(3)
        target = float(line.get_attribute("data-start"))
        line.click()
        page.wait_for_function(
            f"(() => {{ const v = document.getElementById('player');"
            f" return !v.seeking && v.currentTime >= {target} && v.currentTime < {target} + 2; }})()"
        )
        page.wait_for_function("document.querySelectorAll('#transcript button.active').length === 1")
        assert float(page.locator("#transcript button.active").get_attribute("data-start")) == target

        # Search a spoken word from the header; its moment opens the watch page at that second.
        page.fill("#site-q", DEMO_SEARCH_WORD)
        page.press("#site-q", "Enter")
        page.wait_for_url(f"{base}/search?q={DEMO_SEARCH_WORD}")
        assert DEMO_SEARCH_WORD in page.locator(".result mark").first.inner_text().lower()
        _not_pwned(page)
        shot(page, screenshots, "search")
        moment = page.locator(".result .moment").first
        href = moment.get_attribute("href")
        moment.click()
        page.wait_for_url(f"{base}{href}")
        page.wait_for_function("window.__firstPlaying !== undefined", timeout=30_000)
        started_at = page.evaluate("window.__firstPlaying")
        truth = spoken_at(speech_video_path, DEMO_SEARCH_WORD, module_harness.settings.transcription.model)
        assert abs(started_at - truth) <= 1.0, (href, started_at, truth)
        page.wait_for_function(f"document.getElementById('player').currentTime > {started_at} + 0.5")
        assert page.evaluate("window.__mediaErrors") == []
        shot(page, screenshots, "watch-moment")

        # Home, now with the ready video in the grid (thumbnail, title, duration, owner).
        page.goto(f"{base}/")
        card = page.locator(".grid .card").first
        assert card.locator(".card-title").inner_text() == HOSTILE_TITLE
        assert re.fullmatch(r"0:[0-5]\d", card.locator(".duration").inner_text()) and "Vera Viewer" in card.inner_text()
        assert page.evaluate("document.querySelector('.grid .card img').naturalWidth") > 0
        _not_pwned(page)
        shot(page, screenshots, "home")
        watch_path = card.locator("a").first.get_attribute("href")

        # Where HLS cannot play (here: its playlist unreachable), the MP4 fallback plays.
        fallback = context.new_page()
        fallback.route("**/hls/**", lambda route: route.abort("failed"))
        fallback.goto(f"{base}{watch_path}")
        fallback.wait_for_function("document.getElementById('player').currentSrc.includes('/stream/')")
        fallback.evaluate("document.getElementById('player').muted = true; document.getElementById('player').play()")
        fallback.wait_for_function("document.getElementById('player').currentTime > 1", timeout=30_000)
        assert fallback.evaluate("document.getElementById('player').error") is None
        fallback.close()

        # Log out, then log in again through the form.
        page.click("header button:has-text('Log out')")
        page.wait_for_url(f"{base}/")
        assert page.locator("header a[href='/login']").count() == 1
        assert not [c for c in context.cookies() if c["name"] == "videoai_session"]
        page.goto(f"{base}/login")
        shot(page, screenshots, "login")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.locator("header .who").inner_text() == "Vera Viewer"
        print(f"\nscreenshots in {screenshots}; moment {href}: playback from {started_at:.2f} s, word spoken at {truth:.2f} s")
    finally:
        context.close()


def test_an_interrupted_upload_resumes_without_resending_stored_bytes(live_platform, browser, screenshots, media_dir):
    live, worker = live_platform
    base = live.url
    clip = samples.make_speech_video(media_dir / "resume.mp4", "The volcano woke up. Hot lava flowed.", width=640, height=360)
    size = clip.stat().st_size
    chunk = max(16 * 1024, size // 6)
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)  # a phone's width
    page = context.new_page()
    page.set_default_timeout(20_000)
    # Every PATCH the server answered: (phase, the offset the client sent from, the offset the server then held).
    patched: list[tuple[str, int, int]] = []
    starts: list[int] = []  # Upload-Offset of each PATCH let through, in order (one at a time)
    offsets: list[int] = []  # what HEAD said the server holds, when the client asked
    state = {"phase": "first", "patches": 0}

    def network(route) -> None:
        if route.request.method == "PATCH":
            state["patches"] += 1
            if state["phase"] == "first" and state["patches"] > 2:
                route.abort("connectionreset")  # the connection drops: nothing of this chunk arrives
                return
            starts.append(int(route.request.headers["upload-offset"]))
        route.continue_()

    def answered(response) -> None:
        request = response.request
        if request.method == "HEAD" and "upload-offset" in response.headers:
            offsets.append(int(response.headers["upload-offset"]))
        elif request.method == "PATCH" and "upload-offset" in response.headers:
            patched.append((state["phase"], starts[len(patched)], int(response.headers["upload-offset"])))

    page.route("**/api/v1/uploads/tus/**", network)
    page.on("response", answered)
    try:
        sign_up(page, base, screenshots)
        page.goto(f"{base}/upload")
        page.evaluate(f"document.getElementById('upload-form').setAttribute('data-chunk-bytes', '{chunk}')")
        page.set_input_files("#file", str(clip))
        page.fill("#title", "Resumed upload")
        page.click("#upload-button")
        page.wait_for_function(
            "document.getElementById('upload-status').textContent.includes('The upload stopped')", timeout=30_000
        )
        settle(page, lambda: len(patched) >= 2)  # Playwright delivers response events asynchronously
        stored_before = sum(end - start for phase, start, end in patched if phase == "first")
        assert stored_before == 2 * chunk, patched
        assert 0 < page.evaluate("document.getElementById('upload-progress').value") < 100
        shot(page, screenshots, "upload-interrupted")

        state["phase"] = "resumed"  # the connection is back; the user presses Upload again
        page.click("#upload-button")
        page.wait_for_function("document.getElementById('upload-status').textContent.includes('Uploaded (100 %)')")
        settle(page, lambda: bool(patched) and patched[-1][2] == size)
        again = [(start, end) for phase, start, end in patched if phase == "resumed"]
        resumed = sum(end - start for start, end in again)
        assert offsets and offsets[-1] == stored_before, (offsets, patched)  # the server said what it held
        assert again[0][0] == stored_before, patched  # and the client went on from there
        assert resumed == size - stored_before, patched  # only the rest was sent: the file, once in all
        page.wait_for_url(f"{base}/")
        item = page.locator("#processing li", has_text="Resumed upload")
        deadline = time.monotonic() + 180
        while (status := item.get_attribute("data-status")) not in ("ready", "failed"):
            assert time.monotonic() < deadline, f"still {status}; pipeline errors: {worker.errors}"
            time.sleep(0.2)
        assert status == "ready", item.locator("[data-role=message]").inner_text()
        shot(page, screenshots, "home-phone")
        print(f"\nresumable: {size} bytes, {stored_before} before the drop, {resumed} after it")
    finally:
        context.close()
