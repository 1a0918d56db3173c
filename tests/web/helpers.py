"""What the browser tests do on every page: sign up through the form, wait, take screenshots."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "browser-test-42"


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def settle(page: Page, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let Playwright dispatch pending events until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        page.wait_for_timeout(50)


def sign_up(page: Page, base: str, screenshots: Path | None = None, name: str = "Vera Viewer") -> str:
    """A new account through the sign-up form; the page is then signed in on the home page."""
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{base}/signup")
    if screenshots is not None:
        shot(page, screenshots, "signup")
    page.fill("#full_name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert page.locator("header .who").inner_text() == name
    return email


def my_id(page: Page) -> int:
    """The signed-in user's id, as the API tells the page."""
    return page.evaluate("fetch('/api/v1/users/me').then(r => r.json()).then(me => me.id)")
