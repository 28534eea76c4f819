"""Screenshots of the lead's pages at 1440x900 on the demo, for docs/.

    python scripts/screenshots.py [--out docs]

Loads the demo into a fresh SQLite file (`python -m curation_app demo`), applies the acceptance
rule (`adjudicate --auto`, so some items are final), serves the app, logs in as the demo lead in
headless Chromium and saves docs/overview-1440x900.png, docs/agreement-1440x900.png and
docs/adjudicate-1440x900.png.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.browser import chromium_page, log_in, served_app  # noqa: E402

# (file name, URL path, heading): the lead lands on the overview, at the root.
PAGES = (("overview", "", "Overview"), ("agreement", "agreement", "Agreement"), ("adjudicate", "adjudicate", "Adjudicate"))


def run_cli(url: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "curation_app", *args], cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "CURATION_DATABASE_URL": url, "PYTHONPATH": str(REPO_ROOT)})


def wait_until_drawn(page) -> None:  # noqa: ANN001 - a Playwright page
    """Until the rerun is over and every chart has drawn."""
    page.wait_for_function("""() => !document.querySelector("[data-testid='stStatusWidget']")
        && Array.from(document.querySelectorAll("[data-testid='stVegaLiteChart']"))
                .every(chart => chart.querySelector("canvas, svg"))""")
    page.wait_for_timeout(1500)  # vega's transitions and fonts settle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--full-pages", type=Path, help="also save whole pages, scrolled, into this folder")
    arguments = parser.parse_args()
    out = arguments.out
    with tempfile.TemporaryDirectory(prefix="curation-screens-") as folder:
        url = f"sqlite:///{Path(folder) / 'demo.sqlite'}"
        run_cli(url, "demo")
        run_cli(url, "adjudicate", "--auto")
        with served_app(url) as base, chromium_page() as page:
            page.set_viewport_size({"width": 1440, "height": 900})
            log_in(page, base, "lead", "lead-demo", "Overview")
            for name, url_path, heading in PAGES:
                page.set_viewport_size({"width": 1440, "height": 900})
                page.goto(f"{base}/{url_path}")
                page.get_by_role("heading", name=heading).wait_for()
                wait_until_drawn(page)
                path = out / f"{name}-1440x900.png"
                page.screenshot(path=str(path))
                if arguments.full_pages:  # Streamlit scrolls inside the page: a tall window shows all of it
                    page.set_viewport_size({"width": 1440, "height": 3200})
                    wait_until_drawn(page)
                    page.screenshot(path=str(arguments.full_pages / f"{name}-full.png"))
                print(path)


if __name__ == "__main__":
    main()
