"""Helpers for browser tests: the real app served by `python -m curation_app serve`, and Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import REPO_ROOT, missing_real_part

CHROMIUM = os.environ.get("CURATION_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served_app(database_url: str) -> Iterator[str]:
    """Start the app on a free port and yield its base URL; stop it afterwards."""
    for attempt in range(3):
        process, base, log_path = _start_app(database_url)
        try:
            if _wait_until_healthy(process, base):
                break
            output = Path(log_path).read_text()
        except BaseException:
            _stop(process)
            raise
        _stop(process)
        # The port was free when chosen; another process may have taken it before the app bound it.
        if "already in use" not in output or attempt == 2:
            raise RuntimeError(f"the app did not start: {output[-2000:]}")
    try:
        yield base
    except BaseException:
        # What the server printed goes into the failure report (captured stderr).
        print(f"--- the app's log ({base}), last part ---\n{Path(log_path).read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        _stop(process)
        os.unlink(log_path)


def _start_app(database_url: str) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "curation_app", "serve", "--headless", "--port", str(port),
             "--address", "127.0.0.1"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "CURATION_DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)})
    return process, f"http://127.0.0.1:{port}", log.name


def _wait_until_healthy(process: subprocess.Popen, base: str, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return True
        except OSError:
            pass
        if process.poll() is not None:
            return False
        time.sleep(0.3)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def chromium_pages(count: int) -> Iterator[list]:
    """Fresh headless Chromium pages (Debian's chromium, driven by Playwright), each in its own
    browser profile, so each has its own cookies: separate users side by side."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing_real_part(f"Chromium is not installed at {CHROMIUM} (scripts/test.sh installs Debian's chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing_real_part("the playwright package is not installed (pip install -r requirements-dev.txt)")
    expect.set_options(timeout=30_000)  # assertions wait as long as actions: a shared machine can stall
    profiles = [tempfile.mkdtemp(prefix="chromium-profile-") for _ in range(count)]
    try:
        with sync_playwright() as playwright:
            contexts = [playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000}) for profile in profiles]
            try:
                pages = [context.new_page() for context in contexts]
                for page in pages:
                    page.set_default_timeout(30_000)
                yield pages
            finally:
                for context in contexts:
                    context.close()
    finally:
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def chromium_page() -> Iterator["object"]:
    with chromium_pages(1) as (page,):
        yield page


def choose(page, label: str, option: str, attempts: int = 3, *, typed: str | None = None) -> None:
    """Pick an option of a Streamlit selectbox or multiselect. Waits until exactly one enabled
    widget has the label (during a rerun the old one can linger, or the widget is disabled for a
    moment) and starts again if a rerun closed the list meanwhile."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    box = page.get_by_label(label, exact=True)  # not a chip or a button whose name contains it
    for attempt in range(attempts):
        try:
            expect(box).to_have_count(1, timeout=15_000)
            expect(box).to_be_enabled(timeout=15_000)
            box.click()
            page.keyboard.type(typed or option)  # long option lists are virtual: filter so the option is drawn
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except (PlaywrightTimeout, AssertionError):
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def page_state(page) -> str:
    """What the page shows and where the focus is, for a failure message."""
    return "the page shows: " + str(page.evaluate("""() => ({
        url: window.location.href,
        alerts: Array.from(document.querySelectorAll("[data-testid='stAlert']")).map(a => a.innerText),
        exceptions: Array.from(document.querySelectorAll("[data-testid='stException']")).map(e => e.innerText.slice(0, 500)),
        running: Boolean(document.querySelector("[data-testid='stStatusWidget']")),
        primary: Array.from(document.querySelectorAll("[data-testid='stBaseButton-primary']")).map(b => b.innerText),
        focused: document.activeElement ? document.activeElement.tagName + " " + (document.activeElement.getAttribute("aria-label") || "") : null,
        hasFocus: document.hasFocus()})"""))


def log_in(page, base: str, name: str, password: str, landing: str) -> None:
    """Log in through the login form and wait for the role's first page."""
    page.goto(base)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=landing).wait_for()


def new_database(folder: Path, users: dict[str, str]):  # noqa: ANN201 - (url, engine)
    """A migrated SQLite database in `folder` with these users (name -> role), each with the
    password NAME-demo."""
    from curation_app import database
    from curation_app.core import auth

    url = f"sqlite:///{folder / 'curation.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    with database.session_scope(engine) as session:
        for name, role in users.items():
            auth.create_user(session, actor=auth.command_line_actor(), name=name, role=role,
                             password=f"{name}-demo")
    return url, engine
