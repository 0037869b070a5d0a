"""Screenshots of the app as students and lecturers see it, to look at before calling a page done.

    python -m scripts.screenshots --out /tmp/shots [--page how-se-works?dataset=Fashion-MNIST]

Starts the app, opens each page at a projector's 1280x720 (with presenter mode), a laptop's
1280x800 and a phone's 390x844, draws a 7 on the Draw page, and saves full-page PNGs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tools.appserver import CHROMIUM_ARGS, chromium_path, start_app
from tools.canvas import CANVAS, DIGITS, draw

VIEWPORTS = {"projector": (1280, 720), "laptop": (1280, 800), "phone": (390, 844)}
DEFAULT_PAGES = ("", "draw", "excitation", "results", "experiments", "train")


def draw_seven(page: Page) -> None:
    """Draw a 7 on the Draw page's canvas and wait for both answers."""
    page.locator(CANVAS).wait_for(timeout=60_000)
    draw(page, DIGITS[7], steps=25)
    page.locator(".st-key-draw_answer_senet").wait_for(timeout=60_000)


def wait_until_idle(page: Page, quiet_ms: int = 2000, timeout_ms: int = 180_000) -> None:
    """Wait until Streamlit's running indicator has been gone for ``quiet_ms`` in a row: the
    script run has ended and charts settled. (A single check can fall before a slow first
    run has even shown the indicator, and the screenshot then catches the page half drawn.)
    """
    running = "!!document.querySelector('[data-testid=\"stStatusWidget\"]')"
    quiet = waited = 0
    while quiet < quiet_ms:
        if waited > timeout_ms:
            raise TimeoutError(f"the page was still running after {timeout_ms / 1000:.0f} s")
        quiet = 0 if page.evaluate(running) else quiet + 250
        page.wait_for_timeout(250)
        waited += 250


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "se-demo-shots")
    parser.add_argument("--page", action="append", help="URL path with query; repeatable")
    parser.add_argument("--viewport", action="append", choices=tuple(VIEWPORTS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = start_app(None, args.out / "server.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            for viewport in args.viewport or tuple(VIEWPORTS):
                width, height = VIEWPORTS[viewport]
                page = browser.new_page(viewport={"width": width, "height": height})
                for path in args.page or DEFAULT_PAGES:
                    joiner = "&" if "?" in path else "?"
                    url = f"{server.url}/{path}"
                    if viewport == "projector":
                        url += f"{joiner}presenter=true"
                    page.goto(url.replace("/?", "?"))
                    page.get_by_test_id("stAppViewContainer").wait_for()
                    wait_until_idle(page)
                    if path.startswith("draw"):
                        draw_seven(page)
                        wait_until_idle(page)
                    name = path.split("?")[0].replace("/", "_") or "home"
                    suffix = (
                        "_" + path.split("?")[1].replace("=", "-").replace("&", "_")
                        if "?" in path
                        else ""
                    )
                    page.screenshot(path=args.out / f"{name}{suffix}_{viewport}.png")
                    # Streamlit scrolls inside its own container: grow the window to see it all.
                    full = page.evaluate(
                        "document.querySelector('[data-testid=\"stMainBlockContainer\"]')"
                        ".getBoundingClientRect().height + 150"
                    )
                    page.set_viewport_size({"width": width, "height": max(height, int(full))})
                    page.wait_for_timeout(1500)
                    page.screenshot(path=args.out / f"{name}{suffix}_{viewport}_full.png")
                    page.set_viewport_size({"width": width, "height": height})
                    print(args.out / f"{name}{suffix}_{viewport}.png")
                page.close()
            browser.close()
    finally:
        server.stop()
        if server.tracebacks():
            print(server.output())


if __name__ == "__main__":
    main()
