"""A lecture hall without browsers: N Streamlit sessions drawing digits over the websocket.

    python -m bench.load_ws [--levels 10 30 60 100 200] [--period 5] [--duration 40]
                            [--url http://127.0.0.1:PORT --server-pid PID ...]
                            [--replicas 2] [--server-cpus 1 --client-cpus 0]
                            [--browser-check] [--lab-run] [--add-digits]

Each session speaks Streamlit's own protocol (tools/ws_session.py): it opens the Draw
page, then every ``--period`` s (+-``--jitter``, the first one at a random moment) sends
the canvas value of a drawn MNIST test digit (a 280x280 RGBA PNG, the canvas's format) and
waits for both answers and the end of the run (the charts included). Without ``--url`` it
starts ``streamlit run app.py`` itself (``--replicas N``: N of them behind nginx,
scripts/replicas.py); only loopback servers are accepted. A level stops
after ``--duration`` s of drawing (and ``--max-drawings`` per session).

Per level: drawings, digits answered per second, seconds from the drawing sent to both
answers and to the run's end (p50 / p95 / max), errors (closed sockets, error runs,
exceptions on the page, no answer within ``--timeout``), the server's CPU (cores busy),
how long its threads waited for a core (in cores' worth: 0.5 = half a core's time spent
runnable but not running), RSS (start -> peak), and the load average. One untimed session draws first (the server's first visit loads torch and the models,
bench/first_visit.py). ``--browser-check`` first draws a 7 in
Chromium and checks that a protocol session sent the same drawing gets the same digits
and probabilities. ``--samples FILE`` keeps the server's CPU and RSS every second.
``--add-digits``: after each drawing the session adds it to the class's digits with its
label ("Add my digit"); the level reports the seconds from the press to the page's
confirmation (the digit stored), and the store's count and labels are checked against
what the sessions were told was added.
``--lab-run`` queues a Training-lab run of both models (2 epochs x 60,000 images) in the
class's store before the first level and measures while the worker trains it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.server_stats import ServerStats
from se_demo.classroom.digits import ClassDigits
from se_demo.classroom.queue import ClassQueue, RunState
from se_demo.classroom.store import DB_ENV_VAR, open_store, store_url
from se_demo.core.config import RUNS_ENV_VAR, ModelConfig, RunRequest, TrainConfig
from se_demo.core.data import load_split
from se_demo.core.registry import MODEL_KINDS, DatasetName
from se_demo.drawing.preprocess import drawing_problem
from tools.appserver import start_app
from tools.canvas import canvas_png, decode
from tools.ws_session import DrawSession, SessionError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET_P95_S = 1.0


@dataclass
class Level:
    """What the sessions of one level measured."""

    sessions: int
    answer_s: list[float] = field(default_factory=list)
    finished_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)
    correct: int = 0
    errors: list[str] = field(default_factory=list)
    received_bytes: int = 0
    drawing_seconds: float = 0.0
    add_s: list[float] = field(default_factory=list)  # "Add my digit" -> stored and confirmed
    added: list[int] = field(default_factory=list)  # labels the page confirmed as added


async def _student(
    url: str, level: Level, drawings: list[tuple[str, int]], args: argparse.Namespace, end: float
) -> None:
    session = DrawSession(url, timeout_s=args.timeout)
    rng = random.Random()
    try:
        start = time.perf_counter()
        await session.open()
        level.open_s.append(time.perf_counter() - start)
        next_at = time.monotonic() + rng.uniform(0, args.period)
        for _ in range(args.max_drawings):
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= end:
                break
            png, label = rng.choice(drawings)
            run = await session.draw(png)
            level.finished_s.append(run.finished_s)
            level.received_bytes += run.received_bytes
            if run.answer_s is None:
                level.errors.append("a run without both answers")
            else:
                level.answer_s.append(run.answer_s)
                level.correct += run.metrics.get("senet") == str(label)
            if args.add_digits and run.answer_s is not None:
                added = await session.add_digit(label)
                if f"Added as a {label}: thank you!" in added.texts:
                    level.add_s.append(added.finished_s)
                    level.added.append(label)
                else:
                    level.errors.append(
                        f"not added: {[t for t in added.texts if 'digit' in t][-1:]}"
                    )
            next_at += args.period * rng.uniform(1 - args.jitter, 1 + args.jitter)
    except (SessionError, OSError, TimeoutError) as error:
        level.errors.append(f"{type(error).__name__}: {error}")
    finally:
        await session.close()


async def run_level(
    url: str, sessions: int, drawings: list[tuple[str, int]], args: argparse.Namespace
) -> Level:
    """Open ``sessions`` sessions (spread over ``--ramp`` s) and let them draw."""
    level = Level(sessions)
    ramp_end = time.monotonic() + args.ramp
    end = ramp_end + args.duration

    async def delayed(index: int) -> None:
        await asyncio.sleep(args.ramp * index / sessions)
        await _student(url, level, drawings, args, end)

    start = time.monotonic()
    await asyncio.gather(*(delayed(i) for i in range(sessions)))
    level.drawing_seconds = time.monotonic() - start - args.ramp
    return level


def _p(values: list[float]) -> str:
    if not values:
        return f"{'-':>5} {'-':>5} {'-':>5}"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:5.2f} {p95:5.2f} {max(values):5.2f}"


def report_row(level: Level, stats: dict[str, Any]) -> str:
    """One line of the table (see HEADER)."""
    done = len(level.finished_s)
    rate = done / max(level.drawing_seconds, 1e-9)
    kb = level.received_bytes / max(done, 1) / 1024
    return (
        f"{level.sessions:>8} {done:>8} {rate:>6.1f} {_p(level.answer_s)}  {_p(level.finished_s)}"
        f"  {len(level.errors):>6} {level.correct / max(done, 1):>7.0%} {stats['cpu_cores']:>5.2f}"
        f" {stats['wait_cores']:>5.2f}"
        f" {stats['rss_start_mb']:>6.0f}->{stats['rss_peak_mb']:<6.0f} {kb:>6.0f}"
        f" {_p(level.open_s)}  {stats['load']}"
    )


HEADER = (
    "sessions drawings  dig/s  answer p50/p95/max s  run end p50/p95/max  errors  SE ok"
    "  cores  wait  RSS MB start->peak  KB/run  open p50/p95/max s  load avg"
)


async def _warm_up(url: str, png: str, timeout_s: float) -> None:
    """One untimed drawing first: the server's first visit imports torch and loads models."""
    session = DrawSession(url, timeout_s=max(timeout_s, 120))
    await session.open()
    await session.draw(png)
    await session.close()


def _check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"--url must be a loopback address (127.0.0.1), not {host!r}")


async def _main(args: argparse.Namespace) -> int:
    images = load_split(False, args.data_dir, download=False, dataset=DatasetName.MNIST)
    rng = np.random.default_rng(0)
    indices = rng.choice(len(images.labels), size=args.digits, replace=False)
    drawings = [(canvas_png(images.images[i].numpy(), rng), int(images.labels[i])) for i in indices]
    # Only drawings the page answers (it asks for a bigger digit when one is drawn tiny).
    drawings = [(png, label) for png, label in drawings if drawing_problem(decode(png)) is None]
    server = deployment = None
    if args.replicas:
        from tools.replicas import start_replicas

        workdir = Path(tempfile.mkdtemp(prefix="load_ws_replicas_"))
        deployment = await asyncio.to_thread(
            start_replicas, args.replicas, workdir, None, args.data_dir
        )
        url, pids = deployment.url, deployment.pids()
        class_db = deployment.store_url
        print(f"{args.replicas} replicas behind nginx at {url}; logs in {workdir}")
    elif args.url is None:
        folder = Path(tempfile.mkdtemp(prefix="load_ws_"))
        class_db = f"sqlite:///{folder / 'class.db'}"
        env = {RUNS_ENV_VAR: str(folder), DB_ENV_VAR: class_db}
        server = start_app(args.data_dir, folder / "server.log", env=env)
        url, pids = server.url, [server.process.pid]
        if args.server_cpus:
            os.sched_setaffinity(server.process.pid, _cpus(args.server_cpus))
    else:
        _check_loopback(args.url)
        url, pids, class_db = args.url, args.server_pid, store_url()
    if args.client_cpus:
        os.sched_setaffinity(0, _cpus(args.client_cpus))
    failures = 0
    try:
        if args.browser_check:
            from bench.browser_check import same_answer_as_browser

            failures += not await same_answer_as_browser(url)
        await _warm_up(url, drawings[0][0], args.timeout)
        lab = await asyncio.to_thread(start_lab_run, class_db) if args.lab_run else None
        stats = ServerStats(pids)
        print(f"{HEADER}\n" + "-" * len(HEADER))
        samples = []
        for sessions in args.levels:
            stats.start()
            level = await run_level(url, sessions, drawings, args)
            summary = stats.stop()
            samples.append({"sessions": sessions, **summary})
            print(report_row(level, summary), flush=True)
            if args.add_digits:
                failures += not check_added(class_db, level)
            for error in sorted(set(level.errors))[:5]:
                print(f"    error: {error}")
            failures += bool(level.errors)
            await asyncio.sleep(args.pause)
        if lab is not None:
            failures += not report_lab_run(*lab)
        if args.samples:
            Path(args.samples).write_text(json.dumps(samples, indent=1))
        for app in [server] if server else deployment.replicas if deployment else []:
            if app.tracebacks():
                print(f"server printed {app.tracebacks()} tracebacks:\n{app.output()[-3000:]}")
                failures += 1
    finally:
        if server is not None:
            server.stop()
        if deployment is not None:
            deployment.stop()
    return 1 if failures else 0


def check_added(class_db: str, level: Level) -> bool:
    """Print the adds' latency and whether the store holds exactly the confirmed digits."""
    store = open_store(class_db)
    digits = ClassDigits(ClassQueue(store, lecturer_key=LAB_KEY))
    stored = digits.arrays().labels.tolist()
    digits.archive_and_start_new(LAB_KEY)  # the next level counts afresh
    store.dispose()
    same = sorted(stored) == sorted(level.added)
    print(
        f"    digits: {len(level.added)} confirmed, {len(stored)} stored, labels "
        f"{'equal' if same else 'DIFFER'}; press -> stored p50/p95/max {_p(level.add_s)} s"
    )
    return same


LAB_KEY = "load-ws"


def start_lab_run(class_db: str) -> tuple[ClassQueue, str]:
    """Queue a long lab run in the class's store and wait until its worker trains it."""
    queue = ClassQueue(open_store(class_db), lecturer_key=LAB_KEY)
    request = RunRequest(MODEL_KINDS, ModelConfig(), TrainConfig(epochs=2, train_subset=None))
    run_id = queue.submit(request, "load-ws", key=LAB_KEY)
    deadline = time.monotonic() + 180
    while queue.run(run_id).progress is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"the lab run did not start: {queue.run(run_id).message}")
        time.sleep(0.2)
    print(f"lab run {run_id} training ({request.images:,} images) while the levels run")
    return queue, run_id


def report_lab_run(queue: ClassQueue, run_id: str) -> bool:
    """Print how far the lab run got; cancel it. False when it did not train throughout."""
    run = queue.run(run_id)
    speed = (run.progress or {}).get("images_per_second", 0.0)
    print(
        f"lab run {run_id}: {run.state}, {run.images_done:,} of {run.images:,} images, "
        f"{speed:,.0f} training images/s in its current epoch"
    )
    queue.cancel(run_id, None, key=LAB_KEY)
    queue.store.dispose()
    return run.state == RunState.RUNNING


def _cpus(spec: str) -> set[int]:
    return {int(cpu) for cpu in spec.split(",")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--levels", type=int, nargs="+", default=[10, 30, 60, 100, 200], help="sessions per level")
    add("--period", type=float, default=5.0, help="seconds between one session's drawings")
    add("--jitter", type=float, default=0.3, help="+- share of the period, at random")
    add("--duration", type=float, default=40.0, help="seconds of drawing per level")
    add("--ramp", type=float, default=10.0, help="seconds over which the sessions open")
    add("--pause", type=float, default=3.0, help="seconds between levels")
    add("--max-drawings", type=int, default=50, help="drawings per session at most")
    add("--timeout", type=float, default=30.0, help="seconds before a run counts as lost")
    add("--digits", type=int, default=200, help="distinct MNIST test digits drawn")
    add("--url", help="a running app on loopback (default: start one)")
    add("--replicas", type=int, default=0, help="start N replicas behind nginx and use them")
    add("--server-pid", type=int, nargs="*", default=[], help="its processes, for CPU/RSS")
    add("--server-cpus", help="pin the started server to these CPUs, e.g. 1")
    add("--client-cpus", help="pin this load generator to these CPUs, e.g. 0")
    add("--browser-check", action="store_true", help="first compare with a real Chromium")
    add("--samples", help="write the server's CPU/RSS samples (JSON) here")
    add("--lab-run", action="store_true", help="measure while a Training-lab run trains")
    add("--add-digits", action="store_true", help="each drawing is added to the class's digits")
    add("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    raise SystemExit(asyncio.run(_main(parser.parse_args())))


if __name__ == "__main__":
    main()
