"""Every page in headless Chromium at a phone's size (390x844) and a desktop's (1280x800), on one video
the real pipeline processed from a clip with speech: playback that keeps the page still on a phone, one
caption at a time after a seek onto a cue boundary, a non-video refused early, and axe-core's
accessibility rules with keyboard reachability on every page.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.db.models import Video, VideoStatus, VideoTranscript
from pipeline.db.session import session_scope
from pipeline.text import TimedSegment
from pipeline.transcription import to_webvtt
from pipeline.uploads import UploadRules, ingest_file
from tests.web.helpers import my_id, shot, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def signed_in(live_platform, browser):
    """A signed-in browser context (its storage state), shared by the module's pages."""
    live, _ = live_platform
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_up(page, live.url, name="Wanda Watcher")
    user_id = my_id(page)
    state = context.storage_state()
    context.close()
    return state, user_id


@pytest.fixture(scope="module")
def ready_video(live_platform, module_harness, signed_in, speech_video_path) -> int:
    """The speech clip, uploaded by the signed-in user and processed to ready by the real pipeline."""
    _, worker = live_platform
    harness = module_harness
    video = ingest_file(
        harness.engine,
        harness.store,
        speech_video_path,
        UploadRules.from_settings(harness.settings),
        title="Volcano talk",
        description="Spoken words about a volcano.",
        owner_id=signed_in[1],
        filename="volcano.mp4",
        content_type="video/mp4",
        method="tus",
    )
    deadline = time.monotonic() + 300
    while True:
        with session_scope(harness.engine) as session:
            status = session.scalar(select(Video.status).where(Video.id == video.id))
        if status in (VideoStatus.READY.value, VideoStatus.FAILED.value):
            break
        assert time.monotonic() < deadline, f"still {status}; pipeline errors: {worker.errors}"
        time.sleep(0.2)
    assert status == VideoStatus.READY.value
    return video.id


def _page(browser, viewport: dict, state=None, csp: bool = True):
    context = browser.new_context(
        viewport=viewport, storage_state=state, bypass_csp=True, has_touch=viewport == PHONE, is_mobile=viewport == PHONE
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def test_on_a_phone_playback_keeps_the_page_still_and_the_transcript_follows_in_its_panel(
    live_platform, browser, ready_video, screenshots: Path
):
    live, _ = live_platform
    page = _page(browser, PHONE)
    try:
        page.goto(f"{live.url}/watch/{ready_video}")
        page.wait_for_function("document.getElementById('player').readyState >= 1")
        assert page.evaluate("window.scrollY") == 0
        page.evaluate("document.getElementById('player').muted = true; document.getElementById('player').play()")
        page.wait_for_function("document.getElementById('player').currentTime > 0.2", timeout=30_000)
        started = page.evaluate("document.getElementById('player').currentTime")
        scrolls = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            scrolls.append(page.evaluate("window.scrollY"))
            page.wait_for_timeout(200)
        played = page.evaluate("document.getElementById('player').currentTime") - started
        assert played >= 8, played  # it really played for (about) the 10 s
        assert set(scrolls) == {0}, sorted(set(scrolls))
        assert page.locator("#transcript button.active").count() == 1
        # The active line is inside the panel's visible part: the panel scrolled, not the page.
        assert page.evaluate("""(() => { const p = document.getElementById('transcript');
            const a = p.querySelector('button.active'); const pr = p.getBoundingClientRect(), ar = a.getBoundingClientRect();
            return ar.top >= pr.top - 1 && ar.bottom <= pr.bottom + 1; })()""")
        shot(page, screenshots, "watch-phone-playing")
    finally:
        page.context.close()


def _captions_key(harness, video_id: int) -> str:
    with session_scope(harness.engine) as session:
        return session.scalar(select(VideoTranscript.vtt_key).where(VideoTranscript.video_id == video_id))


def _active_cues_after_seek(page, at: float) -> list[list]:
    page.evaluate(f"document.getElementById('player').currentTime = {at}")
    page.wait_for_function(
        f"(() => {{ const v = document.getElementById('player');"
        f" return !v.seeking && Math.abs(v.currentTime - {at}) < 0.001; }})()"
    )
    page.wait_for_timeout(250)  # cuechange follows the seek
    return page.evaluate("Array.from(document.getElementById('player').textTracks[0].activeCues).map(c => [c.startTime, c.text])")


def test_one_caption_at_a_time_after_a_seek_exactly_onto_a_cue_boundary(live_platform, browser, ready_video, module_harness):
    live, _ = live_platform
    store, key = module_harness.store, _captions_key(module_harness, ready_video)
    spoken = store.get_bytes(key)
    cues = [
        TimedSegment(_seconds(start), _seconds(end), text.strip())
        for start, end, text in re.findall(r"(\S+) --> (\S+)\n(.+?)(?:\n\n|$)", spoken.decode(), re.S)
    ]
    assert len(cues) >= 3, spoken
    # Captions whose cues touch (each ends where the next begins), as transcripts made before word
    # timestamps are: every boundary is then the end of one cue and the start of the next.
    touching = [TimedSegment(c.start, cues[i + 1].start if i + 1 < len(cues) else c.end, c.text) for i, c in enumerate(cues)]
    try:
        for captions in (cues, touching):
            store.put_bytes(key, to_webvtt(captions).encode(), "text/vtt")
            page = _page(browser, DESKTOP)  # a fresh browser cache: the captions just changed
            try:
                page.goto(f"{live.url}/watch/{ready_video}")
                page.wait_for_function(
                    "(() => { const v = document.getElementById('player');"
                    " const t = v.textTracks[0]; return v.readyState >= 1 && t.cues"
                    " && t.cues.length > 1; })()"
                )
                for i, cue in enumerate(captions[1:], start=1):
                    # The start of one cue (maybe the end of another): at most that cue, never the one that
                    # ended. (Chromium keeps media time in whole microseconds, truncated: a seek to 4.14 lands
                    # on 4.139999, a microsecond before the cue, which then shows as playback goes on.)
                    shown = _active_cues_after_seek(page, cue.start)
                    assert [round(start, 3) for start, _ in shown] in ([], [round(cue.start, 3)]), (cue, shown)
                    if captions[i - 1].end < cue.start:  # onto the end of a cue no other continues: none
                        assert _active_cues_after_seek(page, captions[i - 1].end) == [], captions[i - 1]
                # A click on a transcript line (the same seek, then play) shows one caption too.
                page.locator("#transcript button").nth(2).click()
                page.wait_for_function("!document.getElementById('player').seeking")
                page.wait_for_timeout(250)
                assert page.evaluate("document.getElementById('player').textTracks[0].activeCues.length") == 1
            finally:
                page.context.close()
    finally:
        store.put_bytes(key, spoken, "text/vtt")


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":") if stamp.count(":") == 2 else ("0", *stamp.split(":"))
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), textarea:not([disabled]),"
    " select:not([disabled]), video[controls], [tabindex]:not([tabindex='-1'])"
)


def _axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "axe.run(document).then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def _unreachable_by_tab(page) -> list[str]:
    """The visible controls that pressing Tab from the top of the page never focuses."""
    count = page.evaluate(f"""(() => {{
        const all = Array.from(document.querySelectorAll("{FOCUSABLE}"))
            .filter(e => e.getClientRects().length > 0 && e.getAttribute('tabindex') !== '-1'
                         && !e.closest('[hidden], dialog:not([open])'));
        all.forEach((e, i) => e.setAttribute('data-kb', i));
        window.__reached = new Set();
        document.addEventListener('focusin', ev => {{
            const e = ev.target.closest('[data-kb]'); if (e) window.__reached.add(e.getAttribute('data-kb')); }});
        document.activeElement && document.activeElement.blur();
        return all.length; }})()""")
    assert count > 0
    for _ in range(count * 4 + 10):
        page.keyboard.press("Tab")
        if page.evaluate("window.__reached.size") == count:
            break
    return page.evaluate("""Array.from(document.querySelectorAll('[data-kb]'))
        .filter(e => !window.__reached.has(e.getAttribute('data-kb'))).map(e => e.outerHTML.slice(0, 120))""")


def test_every_page_passes_axe_and_every_control_is_reachable_by_keyboard_at_both_sizes(
    live_platform, browser, signed_in, ready_video, screenshots: Path
):
    live, _ = live_platform
    state, user_id = signed_in
    pages = [  # (name, path, signed in)
        ("home", "/", False),
        ("signup", "/signup", False),
        ("login", "/login", False),
        ("watch", f"/watch/{ready_video}", False),
        ("search", "/search?q=volcano", False),
        ("search-empty", "/search", False),
        ("search-nothing", "/search?q=zeppelin", False),
        ("ask", f"/ask?q={EVACUATED}", False),
        ("ask-declined", "/ask?q=Who+painted+the+Marbleton+lighthouse", False),
        ("watch-asked", f"/watch/{ready_video}?ask={EVACUATED}", False),
        ("channel", f"/channel/{user_id}", False),
        ("home-signed-in", "/", True),
        ("upload", "/upload", True),
        ("my-videos", "/my-videos", True),
    ]
    problems: dict[str, object] = {}
    for viewport_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        anonymous, member = _page(browser, viewport), _page(browser, viewport, state)
        try:
            for name, path, signed in pages:
                page = member if signed else anonymous
                response = page.goto(f"{live.url}{path}")
                assert response.status == 200, (name, response.status)
                page.wait_for_load_state("networkidle")
                shot(page, screenshots, f"{name}-{viewport_name}")
                violations = _axe_violations(page)
                if violations:
                    problems[f"{name} ({viewport_name}) axe"] = violations
                if name == "search-empty":
                    assert page.locator(".suggestions a").count() >= 1  # never just a heading
                unreachable = _unreachable_by_tab(page)
                if unreachable:
                    problems[f"{name} ({viewport_name}) keyboard"] = unreachable
        finally:
            anonymous.context.close()
            member.context.close()
    assert not problems, problems


EVACUATED = "When+was+the+village+evacuated"


def test_asking_answers_with_the_second_it_is_said_by_keyboard_on_a_phone_and_a_desktop(
    live_platform, browser, ready_video, screenshots: Path
):
    live, _ = live_platform
    for viewport_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = _page(browser, viewport)
        try:
            # The Ask page: typed and sent from the keyboard; the citation links to the second it is said.
            page.goto(f"{live.url}/")
            page.get_by_role("link", name="Ask", exact=True).click()
            page.locator("#ask-q").fill("When was the village evacuated?")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/ask\?q="))
            link = page.locator(".citation a").first
            assert "village was evacuated" in page.locator(".citation blockquote").first.inner_text()
            href = link.get_attribute("href") or ""
            at = float(re.fullmatch(rf"/watch/{ready_video}\?t=([\d.]+)", href).group(1))  # type: ignore[union-attr]
            assert 5 < at < 20  # the fourth of seven sentences of a ~24 s clip
            shot(page, screenshots, f"ask-answered-{viewport_name}")
            link.focus()
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(rf"/watch/{ready_video}\?t="))
            page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {at}) < 0.5")

            # Ask this video: the answer on the watch page, its citation seeks the player without leaving.
            page.goto(f"{live.url}/watch/{ready_video}")
            page.locator("#ask-q").fill("What made the soil of the farmers rich?")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"[?&]ask="))
            citation = page.locator(".ask-video .citation a").first
            assert "ash" in page.locator(".ask-video .citation blockquote").first.inner_text().lower()
            target = float(citation.get_attribute("data-start") or "nan")
            address = page.url
            citation.click()
            page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {target}) < 0.5")
            assert page.url == address
            shot(page, screenshots, f"watch-asked-{viewport_name}")
        finally:
            page.context.close()


def test_a_non_video_is_refused_after_its_first_chunk_and_the_page_resets(
    live_platform, browser, signed_in, media_dir, module_harness, screenshots
):
    live, _ = live_platform
    # A document three chunks long, named like a video.
    fake = media_dir / "holiday.mp4"
    fake.write_bytes(b"%PDF-1.7\n" + b"not a video at all\n" * (3 * 64 * 1024 // 19 + 1))
    chunk = 64 * 1024
    page = _page(browser, DESKTOP, signed_in[0])
    patches: list[tuple[int, int]] = []  # (Upload-Offset sent, the status answered)
    page.on(
        "response",
        lambda r: patches.append((int(r.request.headers["upload-offset"]), r.status)) if r.request.method == "PATCH" else None,
    )
    try:
        page.goto(f"{live.url}/upload")
        page.evaluate(f"document.getElementById('upload-form').setAttribute('data-chunk-bytes', '{chunk}')")
        page.set_input_files("#file", str(fake))
        page.click("#upload-button")
        page.wait_for_function("document.getElementById('upload-status').textContent.includes('refused')")
        status = page.locator("#upload-status").inner_text()
        assert "not a video" in status, status
        assert page.evaluate("document.getElementById('upload-progress').value") == 0
        assert page.locator("#upload-button").is_enabled()
        shot(page, screenshots, "upload-refused")
        assert patches == [(0, 415)], patches  # the first chunk only, then the refusal
        assert fake.stat().st_size > 2 * chunk
        with session_scope(module_harness.engine) as session:  # nothing of it is left
            assert session.scalar(select(Video.id).where(Video.original_filename == "holiday.mp4")) is None
    finally:
        page.context.close()
