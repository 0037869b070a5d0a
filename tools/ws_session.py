"""One Streamlit session without a browser: the app's websocket protocol, spoken directly.

A browser opens ``ws://HOST/_stcore/stream`` (subprotocol ``streamlit``), sends a
``rerun_script`` BackMsg naming the page, and receives ForwardMsgs (``new_session``,
element deltas, ``script_finished``). Drawing on the canvas sends another ``rerun_script``
whose widget states hold the canvas's value as JSON:
``{"drawing": {"raw": <fabric.js JSON>, "data": "data:image/png;base64,..."}}``
(streamlit-drawable-canvas 0.13, a Components-v2 component; recorded from Chromium).
:class:`DrawSession` sends exactly that and reads the answers from the deltas.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from se_demo.core.registry import MODEL_TITLES
from tools.canvas import CANVAS_KEY

# The Draw page's answers are metrics labelled with the models' titles.
ANSWER_LABELS = {title: str(kind) for kind, title in MODEL_TITLES.items()}
MAX_MESSAGE_BYTES = 200 * 2**20
FINISHED = (
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
)  # Streamlit's own client accepts large figure messages


class SessionError(RuntimeError):
    """The server closed the session, ended a run with an error, or showed an exception."""


@dataclass
class Run:
    """What one script run sent back: its answers, texts and figures, and its timings."""

    metrics: dict[str, str] = field(default_factory=dict)  # model -> "7" or "unsure"
    texts: list[str] = field(default_factory=list)  # markdown bodies, in order
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # chart id -> spec
    widget_ids: list[str] = field(default_factory=list)
    fragment_ids: dict[str, str] = field(default_factory=dict)  # widget id -> its fragment
    answer_s: float | None = None  # request to the second answer's delta
    finished_s: float = 0.0  # request to script_finished
    received_bytes: int = 0

    def sentence(self, model: str) -> str:
        """The page's sentence for one model, e.g. "Basic CNN: 7 (97 % sure)..."."""
        title = next(label for label, name in ANSWER_LABELS.items() if name == model)
        return next(text for text in self.texts if text.startswith(f"{title}:"))

    def probabilities(self) -> dict[str, list[float]]:
        """Each model's probabilities for digits 0-9, read from the probability chart."""
        spec = next(spec for key, spec in self.figures.items() if "draw_probabilities" in key)
        return {t["name"]: _plotly_array(t["y"]) for t in spec["data"] if t["type"] == "bar"}


def run_blocking(coroutine: Any) -> Any:
    """Run a coroutine to its end in a thread of its own and return its result.

    Unlike a bare ``asyncio.run``, this works from a thread whose event loop is already
    running (pytest after Playwright's sync API has started one in the main thread).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def canvas_value(png_data_url: str, raw: dict[str, Any] | None = None) -> str:
    """The canvas component's widget value for a drawing, as the browser sends it."""
    raw = raw or {"version": "7.4.0", "objects": [{"type": "Path"}], "background": "#000000"}
    return json.dumps({"drawing": {"raw": raw, "data": png_data_url}})


class DrawSession:
    """A Streamlit session on one page (the Draw page by default), over the websocket."""

    def __init__(self, base_url: str, page: str = "draw", timeout_s: float = 60.0) -> None:
        self.ws_url = base_url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
        self.page_url = base_url.rstrip("/") + "/" + page
        self.page = page
        self.timeout_s = timeout_s
        self.canvas_id: str | None = None
        self.canvas: str | None = None  # the canvas's last value, sent again with other widgets
        self.widget_ids: list[str] = []  # of the last run
        self.fragment_ids: dict[str, str] = {}  # widget id -> the fragment it is drawn in
        self.cookie = ""  # what the page's HTTP answer set (nginx's route), sent back
        self.page_upstream: str | None = None  # X-Upstream of the page's HTTP answer
        self.response_headers: dict[str, str] = {}  # of the websocket's upgrade
        self._ws: Any = None

    async def open(self) -> Run:
        """Load the page's HTML, connect and run the page once, as a browser's visit does."""
        await asyncio.to_thread(self._get_page)
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=[websockets.Subprotocol("streamlit")],
            additional_headers={"Cookie": self.cookie} if self.cookie else None,
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=self.timeout_s,
        )
        self.response_headers = dict(self._ws.response.headers)
        run = await self._run({})
        self.canvas_id = next((i for i in run.widget_ids if CANVAS_KEY in i), None)
        return run

    def _widget(self, key: str) -> str:
        found = next((i for i in self.widget_ids if i.endswith(f"-{key}")), None)
        if found is None:
            raise SessionError(f"no widget {key!r} on the page's last run")
        return found

    async def add_digit(self, label: int) -> Run:
        """After a drawing: choose its label in "Add your digit" (one run), then press
        "Add my digit" (the run returned: its texts hold the page's confirmation)."""
        label_id = self._widget("class_label")
        chosen = WidgetState(id=label_id)
        chosen.string_array_value.data.append(str(label))
        fragment = self.fragment_ids.get(label_id, "")  # as a browser reruns a fragment alone
        await self._run({}, [chosen], fragment)
        press = WidgetState(id=self._widget("class_add"), trigger_value=True)
        return await self._run({}, [chosen, press], fragment)

    def _get_page(self) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        request = urllib.request.Request(self.page_url, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
            reply.read()
            cookies = [c.split(";", 1)[0] for c in reply.headers.get_all("Set-Cookie") or []]
            self.page_upstream = reply.headers.get("X-Upstream")
        if cookies:
            self.cookie = "; ".join(cookies)

    async def draw(self, png_data_url: str, raw: dict[str, Any] | None = None) -> Run:
        """Send a drawing as the canvas does and wait for the run it triggers to finish."""
        return await self.send_canvas(canvas_value(png_data_url, raw))

    async def send_canvas(self, value: str) -> Run:
        """Send the canvas's widget value (JSON, as recorded from a browser) and wait."""
        if self.canvas_id is None:
            raise SessionError(f"no canvas seen on page {self.page!r} (open it first)")
        self.canvas = value
        return await self._run({})

    async def close(self) -> None:
        """Close the websocket (the server ends the session)."""
        if self._ws is not None:
            await self._ws.close()

    async def _run(
        self, json_widgets: dict[str, str], others: Sequence[WidgetState] = (), fragment: str = ""
    ) -> Run:
        if self.canvas is not None and self.canvas_id is not None:  # as a browser resends it
            json_widgets = {self.canvas_id: self.canvas, **json_widgets}
        message = BackMsg()
        state = message.rerun_script
        state.page_name = self.page
        state.fragment_id = fragment
        state.context_info.url = self.page_url
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        for widget_id, value in json_widgets.items():
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            widget.json_value = value
        for other in others:
            state.widget_states.widgets.add().CopyFrom(other)
        run = Run()
        start = time.perf_counter()
        await self._ws.send(message.SerializeToString())
        deadline = start + self.timeout_s
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise SessionError(f"no script_finished within {self.timeout_s:.0f} s")
            data = await _receive(self._ws, remaining)
            run.received_bytes += len(data)
            forward = ForwardMsg.FromString(data)
            kind = forward.WhichOneof("type")
            if kind == "delta":
                read_delta(forward, run, start)
            elif kind == "script_finished":
                if forward.script_finished not in FINISHED:
                    raise SessionError(f"run ended with status {forward.script_finished}")
                run.finished_s = time.perf_counter() - start
                if not fragment:  # a fragment's run draws only its own widgets
                    self.widget_ids = run.widget_ids
                    self.fragment_ids = run.fragment_ids
                return run


def _plotly_array(value: Any) -> list[float]:
    """A plotly JSON array: a list, or numpy's typed form ``{"dtype", "bdata"}``."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return [float(v) for v in value]


async def _receive(ws: Any, timeout_s: float) -> bytes:
    try:
        data = await asyncio.wait_for(ws.recv(), timeout_s)
    except TimeoutError as error:
        raise SessionError("timed out waiting for the server") from error
    except websockets.ConnectionClosed as error:
        raise SessionError(f"server closed the websocket: {error}") from error
    if isinstance(data, str):
        raise SessionError("a text frame; Streamlit sends binary protobufs")
    return data


def read_delta(forward: ForwardMsg, run: Run, start: float) -> None:
    """Note what one ForwardMsg delta shows: answers, texts, figures, widget ids."""
    if forward.delta.WhichOneof("type") != "new_element":
        return
    element = forward.delta.new_element
    kind = element.WhichOneof("type")
    if kind == "exception":
        raise SessionError(f"the page raised: {element.exception.message}")
    if kind == "metric" and element.metric.label in ANSWER_LABELS:
        run.metrics[ANSWER_LABELS[element.metric.label]] = element.metric.body
        if len(run.metrics) == len(ANSWER_LABELS):
            run.answer_s = time.perf_counter() - start
    elif kind == "markdown":
        run.texts.append(element.markdown.body)
    elif kind == "alert":
        run.texts.append(element.alert.body)
    elif kind == "plotly_chart":
        run.figures[element.plotly_chart.id] = json.loads(element.plotly_chart.spec)
    elif kind is not None:
        widget_id = getattr(getattr(element, kind), "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID"):
            run.widget_ids.append(widget_id)
            if forward.delta.fragment_id:
                run.fragment_ids[widget_id] = forward.delta.fragment_id
