"""Every page in headless Chromium at a phone's size (390x844) and a desktop's (1280x800), on one video
the real pipeline processed from a clip with speech: playback that keeps the page still on a phone, one
caption at a time after a seek onto a cue boundary, a non-video refused early, and axe-core's
accessibility rules with keyboard reachability on every page.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.db.models import Video, VideoStatus
from pipeline.db.session import session_scope
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
    video = ingest_file(harness.engine, harness.store, speech_video_path, UploadRules.from_settings(harness.settings),
                        title="Volcano talk", description="Spoken words about a volcano.", owner_id=signed_in[1],
                        filename="volcano.mp4", content_type="video/mp4", method="tus")
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
    context = browser.new_context(viewport=viewport, storage_state=state, bypass_csp=True,
                                  has_touch=viewport == PHONE, is_mobile=viewport == PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def test_on_a_phone_playback_keeps_the_page_still_and_the_transcript_follows_in_its_panel(
        live_platform, browser, ready_video, screenshots: Path):
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


def test_one_caption_at_a_time_after_a_seek_exactly_onto_a_cue_boundary(live_platform, browser, ready_video):
    live, _ = live_platform
    page = _page(browser, DESKTOP)
    try:
        page.goto(f"{live.url}/watch/{ready_video}")
        page.wait_for_function("(() => { const v = document.getElementById('player'); const t = v.textTracks[0];"
                               " return v.readyState >= 1 && t.cues && t.cues.length > 1; })()")
        lines = page.locator("#transcript button")
        bounds = [(float(lines.nth(i).get_attribute("data-start")), float(lines.nth(i).get_attribute("data-end")))
                  for i in range(lines.count())]
        shared = [i for i in range(1, len(bounds)) if bounds[i][0] == bounds[i - 1][1]]
        assert shared, f"the clip's transcript has no cue starting where the previous ends: {bounds}"
        for i in shared:
            boundary = bounds[i][0]
            page.evaluate(f"document.getElementById('player').currentTime = {boundary}")
            page.wait_for_function(f"(() => {{ const v = document.getElementById('player');"
                                   f" return !v.seeking && Math.abs(v.currentTime - {boundary}) < 0.01; }})()")
            page.wait_for_timeout(300)  # cuechange is dispatched after the seek completes
            active = page.evaluate("Array.from(document.getElementById('player').textTracks[0].activeCues)"
                                   ".map(c => [c.startTime, c.text])")
            assert len(active) == 1 and abs(active[0][0] - boundary) < 0.01, (boundary, active)
        # A click on the line that starts there (the same seek) shows its caption alone too.
        lines.nth(shared[0]).click()
        page.wait_for_function("!document.getElementById('player').seeking")
        page.wait_for_timeout(300)
        assert page.evaluate("document.getElementById('player').textTracks[0].activeCues.length") == 1
    finally:
        page.context.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FOCUSABLE = ("a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), textarea:not([disabled]),"
             " select:not([disabled]), video[controls], [tabindex]:not([tabindex='-1'])")


def _axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document).then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
                          " help: v.help, targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))")
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
        live_platform, browser, signed_in, ready_video, screenshots: Path):
    live, _ = live_platform
    state, user_id = signed_in
    pages = [  # (name, path, signed in)
        ("home", "/", False), ("signup", "/signup", False), ("login", "/login", False),
        ("watch", f"/watch/{ready_video}", False), ("search", "/search?q=volcano", False),
        ("search-empty", "/search", False), ("search-nothing", "/search?q=zeppelin", False),
        ("channel", f"/channel/{user_id}", False),
        ("home-signed-in", "/", True), ("upload", "/upload", True), ("my-videos", "/my-videos", True),
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
