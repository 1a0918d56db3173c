"""My videos in headless Chromium, on the real pipeline: a video followed from upload to ready without a
reload (its live rendition playing while it transcodes), then edited and deleted from the page; a failed
video with its reason, retried to ready; the channel every owner name leads to.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.db.models import Video
from pipeline.db.session import session_scope
from pipeline.uploads import UploadRules, ingest_file
from tests.web.helpers import my_id, shot, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# A marker the page keeps only while it is never reloaded.
SAME_DOCUMENT = "window.__sameDocument = true"


def _status(harness, video_id: int) -> str | None:
    with session_scope(harness.engine) as session:
        return session.scalar(select(Video.status).where(Video.id == video_id))


def _wait_for_status(item, wanted: str, worker, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while (status := item.get_attribute("data-status")) != wanted:
        assert status not in ({"ready", "failed"} - {wanted}), item.inner_text()
        assert time.monotonic() < deadline, f"still {status}; pipeline errors: {worker.errors}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def owner_page(live_platform, browser):
    """A signed-in page (desktop size) shared by the module's tests."""
    live, _ = live_platform
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_up(page, live.url, name="Olga Owner")
    yield page
    context.close()


def test_my_videos_follow_a_video_to_ready_live_then_edit_and_delete_it(
    live_platform, owner_page, browser, module_harness, speech_video_path, screenshots
):
    live, worker = live_platform
    base, page, harness = live.url, owner_page, module_harness
    visitor = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True).new_page()
    try:
        visitor.goto(f"{base}/")
        assert "No videos yet" in visitor.locator("#videos").inner_text()
        visitor.evaluate(SAME_DOCUMENT)

        # Uploaded exactly as the upload routes do (the upload rule, then the pipeline's run).
        video = ingest_file(
            harness.engine,
            harness.store,
            speech_video_path,
            UploadRules.from_settings(harness.settings),
            title="Volcano talk",
            description="First cut.",
            owner_id=my_id(page),
            filename="volcano-final-v2.mp4",
            content_type="video/mp4",
            method="tus",
        )
        page.goto(f"{base}/my-videos")
        page.evaluate(SAME_DOCUMENT)
        item = page.locator(f"#my-videos li[data-video-id='{video.id}']")
        assert item.locator("[data-role=title]").inner_text() == "Volcano talk"

        # While it transcodes, its first rendition streams: the page links to it, and it plays.
        live_link = item.locator("[data-role=live]")
        live_link.wait_for(state="visible", timeout=120_000)
        assert 1 <= int(item.locator("[data-role=progress]").get_attribute("value")) < 5
        shot(page, screenshots, "my-videos-processing")
        live_link.click()
        page.wait_for_url(f"{base}/watch/{video.id}")
        page.wait_for_function("document.getElementById('player').readyState >= 1")
        page.evaluate("document.getElementById('player').play()")
        page.wait_for_function("document.getElementById('player').currentTime > 1", timeout=60_000)
        playing_while = _status(harness, video.id)
        assert playing_while == "transcoding", playing_while
        assert page.evaluate("document.getElementById('player').error") is None
        shot(page, screenshots, "watch-live")

        # Ready: the processing page says so without a reload, and so does the visitor's home page.
        page.evaluate(SAME_DOCUMENT)
        _wait_for_status(page.locator(f"#processing li[data-video-id='{video.id}']"), "ready", worker)
        assert page.locator("[data-role=watch]").is_visible()
        assert page.evaluate("window.__sameDocument") is True
        visitor.wait_for_selector(f"#videos .card a[href='/watch/{video.id}']", timeout=15_000)
        assert visitor.evaluate("window.__sameDocument") is True

        # The owner's name leads to their channel.
        visitor.locator("#videos .card .owner").first.click()
        visitor.wait_for_url(f"{base}/channel/*")
        assert visitor.locator("h1").inner_text() == "Olga Owner"
        assert visitor.locator(f".card a[href='/watch/{video.id}']").count() == 1
        shot(visitor, screenshots, "channel")
        # Another user's file name is not theirs to see; the owner sees it.
        public = visitor.evaluate(f"fetch('/api/v1/videos/{video.id}').then(r => r.json())")
        assert public["original_filename"] is None and public["title"] == "Volcano talk"
        listed = visitor.evaluate("fetch('/api/v1/videos/list').then(r => r.json())")
        assert all(v["original_filename"] is None for v in listed["items"])
        mine = page.evaluate(f"fetch('/api/v1/videos/{video.id}').then(r => r.json())")
        assert mine["original_filename"] == "volcano-final-v2.mp4"

        # Edit from my videos: title and description change everywhere.
        page.goto(f"{base}/my-videos")
        item = page.locator(f"#my-videos li[data-video-id='{video.id}']")
        assert item.locator("[data-role=status]").inner_text() == "ready"
        assert item.locator("[data-role=thumbnail]").evaluate("img => img.naturalWidth") > 0
        item.locator("[data-action=edit]").click()
        item.locator("input[name=title]").fill("Lava and ash")
        item.locator("textarea[name=description]").fill("The final cut, about lava.")
        shot(page, screenshots, "my-videos-edit")
        item.locator("form button[type=submit]").click()
        page.wait_for_function(
            f"document.querySelector(\"li[data-video-id='{video.id}'] [data-role=title]\").textContent === 'Lava and ash'"
        )
        assert item.locator("[data-role=description]").inner_text() == "The final cut, about lava."
        page.goto(f"{base}/watch/{video.id}")
        assert page.locator("h1").inner_text() == "Lava and ash"
        page.goto(f"{base}/search?q=lava+ash")
        assert page.locator(f".result[data-video-id='{video.id}'] h2").inner_text() == "Lava and ash"

        # Delete, after a confirmation that can be declined.
        page.goto(f"{base}/my-videos")
        item = page.locator(f"#my-videos li[data-video-id='{video.id}']")
        # By keyboard: Enter on Delete asks; Escape keeps the video and gives the focus back to Delete.
        item.locator("[data-action=delete]").focus()
        page.keyboard.press("Enter")
        dialog = page.locator("#confirm-delete")
        assert dialog.is_visible() and "Lava and ash" in dialog.inner_text()
        assert page.evaluate("document.activeElement.value") == "cancel"  # the safe choice has the focus
        shot(page, screenshots, "my-videos-delete")
        page.keyboard.press("Escape")
        assert not dialog.is_visible() and item.count() == 1
        assert page.evaluate("document.activeElement.dataset.action") == "delete"
        item.locator("[data-action=delete]").click()
        dialog.locator("button[value=delete]").click()
        item.wait_for(state="detached")
        assert _status(harness, video.id) is None
        visitor.goto(f"{base}/")
        assert visitor.locator(f"a[href='/watch/{video.id}']").count() == 0
        visitor.goto(f"{base}/search?q=lava+ash")
        assert visitor.locator(f".result[data-video-id='{video.id}']").count() == 0
        assert visitor.goto(f"{base}/watch/{video.id}").status == 404
    finally:
        visitor.context.close()


def test_a_failed_video_shows_its_reason_and_a_retry_reaches_ready(
    live_platform, owner_page, module_harness, media_dir, small_video_path, screenshots
):
    live, worker = live_platform
    base, page, harness = live.url, owner_page, module_harness
    # Half an MP4 (an interrupted copy) reached the store: the pipeline fails the video and says why.
    broken = samples.make_corrupt_video(media_dir / "interrupted.mp4")
    video_id = harness.register(broken, "Interrupted clip", owner_id=my_id(page))
    page.goto(f"{base}/my-videos")
    page.evaluate(SAME_DOCUMENT)
    item = page.locator(f"#my-videos li[data-video-id='{video_id}']")
    _wait_for_status(item, "failed", worker)
    reason = item.locator("[data-role=message]").inner_text()
    assert "could not be read as a video" in reason, reason
    assert item.locator("[data-role=thumbnail]").get_attribute("src") == "/static/placeholder-failed.svg"
    assert item.locator("[data-role=progress]").is_hidden()
    retry = item.locator("[data-action=retry]")
    assert retry.is_visible()
    shot(page, screenshots, "my-videos-failed")

    # The whole file is put back; a retry from the page takes the video to ready, followed live.
    with session_scope(harness.engine) as session:
        source_key = session.get(Video, video_id).source_key
    harness.store.put_file(source_key, small_video_path)
    retry.click()
    page.wait_for_function(f"document.querySelector(\"li[data-video-id='{video_id}']\").dataset.status !== 'failed'")
    _wait_for_status(item, "ready", worker, timeout=180)
    assert item.locator("[data-role=message]").inner_text() == ""
    assert retry.is_hidden() and item.locator("[data-role=watch]").is_visible()
    page.wait_for_function(
        f"document.querySelector(\"li[data-video-id='{video_id}'] [data-role=thumbnail]\").src.endsWith('/thumbnail')"
    )
    assert page.evaluate("window.__sameDocument") is True
    # A video that has not failed is not retried.
    again = page.evaluate(f"""fetch('/api/v1/videos/{video_id}/retry', {{method: 'POST', headers: {{
        'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}}}}).then(r => r.status)""")
    assert again == 409
