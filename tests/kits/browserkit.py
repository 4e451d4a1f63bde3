"""A real headless browser for the kit's HTML tests (the student document, the class report).

``open_page(path)`` is a context manager that starts Debian's Chromium through its
ChromeDriver with Selenium, loads ``file://path`` and yields a :class:`Page`.  Where the
browser cannot run (no ``chromium``/``chromedriver`` on PATH, no ``selenium`` module), the
test is skipped with the reason; ``scripts/install-system-deps.sh`` installs both on a
Debian/Ubuntu machine, so CI never skips.

On a failed test the page's screenshot and HTML are kept in ``build/test-artifacts/`` (set
``DLKIT_ARTIFACTS`` to keep them elsewhere) and the path is printed in the failure.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

KIT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DLKIT_ARTIFACTS", KIT / "build" / "test-artifacts"))

# Chromium flags for a closed network: without the background-networking ones it keeps
# trying to reach its update and sync hosts.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1400,1000")


def browser_unavailable() -> str | None:
    """Why no browser test can run here, or None when Chromium, ChromeDriver and Selenium exist."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for exe in ("chromium", "chromedriver"):
        if not shutil.which(exe):
            return (f"{exe} is not on PATH (Debian packages chromium and chromium-driver: "
                    f"bash scripts/install-system-deps.sh as root)")
    return None


@dataclass
class Page:
    """A loaded page: the Selenium driver plus the console messages seen so far."""
    driver: object
    url: str
    console: list[dict] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        """Console messages of level SEVERE (JavaScript errors, failed loads), as text."""
        self.console.extend(self.driver.get_log("browser"))
        return [f"{m.get('level')}: {m.get('message')}" for m in self.console
                if m.get("level") == "SEVERE"]

    def open(self, path: Path) -> None:
        """Load another local file in the same browser."""
        self.console.extend(self.driver.get_log("browser"))
        self.url = Path(path).resolve().as_uri()
        self.driver.get(self.url)

    def screenshot(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(dest))
        return dest

    def find(self, css: str) -> list:
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def run_js(self, script: str, *args):
        return self.driver.execute_script(script, *args)


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-120:]


@contextlib.contextmanager
def open_page(path: Path, *, name: str = "page") -> Iterator[Page]:
    """Headless Chromium on ``file://path``; skips the test where the browser cannot run.

    A failure inside the block keeps ``ARTIFACTS/<name>.png`` and ``.html`` (the page as the
    browser had it) and adds their paths to the assertion message.
    """
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="dlkit-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    page = Page(driver=driver, url=Path(path).resolve().as_uri())
    try:
        driver.get(page.url)
        try:
            yield page
        except Exception as exc:  # pytest's skip/fail outcomes are BaseExceptions: not kept
            stem = ARTIFACTS / _artifact_name(name)
            png = page.screenshot(Path(f"{stem}.png"))
            Path(f"{stem}.html").write_text(driver.page_source)
            Path(f"{stem}.console.json").write_text(json.dumps(page.console, indent=1))
            raise AssertionError(f"{exc}\n(screenshot kept: {png})") from exc
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
