"""Headless Chromium (Debian's package), driven by Playwright, for the browser tests (their `browser` fixture is in
conftest.py).

Importing this module skips the importing test module when Chromium is missing, except where
PAPERWIRE_REQUIRE_BROWSER=1 (CI), where a missing browser is an error, never a skip.
"""

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"

if not shutil.which(CHROMIUM):
    if os.environ.get("PAPERWIRE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing but PAPERWIRE_REQUIRE_BROWSER=1 (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

__all__ = ["CHROMIUM", "expect", "launch", "sync_playwright"]


def launch(playwright, *extra_args: str):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", *extra_args],
    )
