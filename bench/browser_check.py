"""Does a protocol session get what a browser shows? One drawing, both ways, compared.

Chromium draws a 7 on the Draw page with the mouse; its websocket frames are recorded.
A protocol session (tools/ws_session.py) then sends the very canvas value Chromium sent.
Both must show the same digits, sentences and probabilities (and the page's DOM the
same sentences the protocol session read).
"""

from __future__ import annotations

import json
import time

from playwright.async_api import WebSocket, async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tools.appserver import CHROMIUM_ARGS, chromium_path
from tools.canvas import CANVAS_KEY, DIGITS, PROMPT, draw_async
from tools.ws_session import DrawSession, Run, read_delta

TIMEOUT_MS = 60_000


async def _browser_drawing(url: str) -> tuple[str, Run, list[str]]:
    """Draw a 7 in Chromium: the canvas value it sent, the run it got, the answers' texts."""
    canvas_values: list[str] = []
    runs: list[Run] = []

    def on_sent(payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            for widget in BackMsg.FromString(payload).rerun_script.widget_states.widgets:
                if CANVAS_KEY in widget.id and widget.json_value:
                    canvas_values.append(widget.json_value)
                    runs.append(Run())

    def on_received(payload: str | bytes) -> None:
        if isinstance(payload, bytes) and runs:
            forward = ForwardMsg.FromString(payload)
            if forward.WhichOneof("type") == "delta":
                read_delta(forward, runs[-1], time.perf_counter())

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 900})

        def on_websocket(ws: WebSocket) -> None:
            ws.on("framesent", on_sent)
            ws.on("framereceived", on_received)

        page.on("websocket", on_websocket)
        await page.goto(f"{url}/draw")
        await page.get_by_text(PROMPT).wait_for(timeout=TIMEOUT_MS)
        await draw_async(page, DIGITS[7], steps=20)
        texts = []
        for model in ("cnn", "senet"):
            answer = page.locator(f".st-key-draw_answer_{model}")
            await answer.filter(has_text=": 7 (").wait_for(timeout=TIMEOUT_MS)
            texts.append(await answer.inner_text())
        await page.locator(".st-key-draw_probabilities").wait_for(timeout=TIMEOUT_MS)
        await browser.close()
    return canvas_values[-1], runs[-1], texts


async def same_answer_as_browser(url: str) -> bool:
    """Print and return whether the protocol session saw exactly what Chromium showed."""
    value, seen, dom = await _browser_drawing(url)
    session = DrawSession(url)
    await session.open()
    got = await session.send_canvas(value)
    await session.close()
    checks = {
        "digits": seen.metrics == got.metrics,
        "sentences": [seen.sentence(m) for m in ("cnn", "senet")]
        == [got.sentence(m) for m in ("cnn", "senet")],
        "page text": all(
            got.sentence(m) in text for m, text in zip(("cnn", "senet"), dom, strict=True)
        ),
        "probabilities": seen.probabilities() == got.probabilities(),
    }
    print(
        f"browser check (a 7 drawn in Chromium, its canvas value replayed): browser "
        f"{seen.metrics}, protocol {got.metrics} {json.dumps(got.sentence('cnn'))}; "
        + ", ".join(f"{name} {'same' if ok else 'DIFFERENT'}" for name, ok in checks.items())
    )
    return all(checks.values())
