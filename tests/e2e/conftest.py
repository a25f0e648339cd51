"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_browser import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, driven by playwright, for one test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium (.ci/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()
