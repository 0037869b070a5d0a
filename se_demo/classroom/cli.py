"""The class's commands: ``python -m se_demo worker``, ``queue ...`` and ``class ...``.

Both read ``SE_DEMO_DB`` like the app. ``queue add`` queues as the lecturer when
``SE_DEMO_LECTURER_KEY`` is set (no per-student limits), else under the limits as the
owner ``--owner``; ``queue cancel`` needs the owner's token or the lecturer's key.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import fields

from se_demo.classroom.digit_files import export_digits, read_digits
from se_demo.classroom.digits import ClassDigits
from se_demo.classroom.queue import (
    ClassQueue,
    LabLimitError,
    LabRun,
    RunState,
    lecturer_key_from_env,
)
from se_demo.classroom.store import Store, StoreError, open_store, store_url
from se_demo.classroom.worker import (
    EMBEDDED_NICENESS,
    STORE_RETRY_S,
    hold_machine_lock,
    work,
    work_on_ray,
    worker_id,
)
from se_demo.core.config import CHECKPOINT_DIR, ModelConfig, RunRequest, TrainConfig
from se_demo.core.registry import MODEL_KINDS, MODEL_TITLES, DatasetName


def worker_command(args: argparse.Namespace) -> int:
    """``worker``: train queued runs until stopped (``--once``: one run at most)."""
    url = store_url()
    exiting = threading.Event()
    if args.embedded:
        os.nice(EMBEDDED_NICENESS)
    if args.parent:
        _exit_with_parent(args.parent, exiting)
    lock = hold_machine_lock(url, exiting.is_set) if args.embedded else None
    if args.embedded and lock is None:
        return 0
    store = _open_when_reachable(url, exiting) if args.embedded else open_store(url)
    if store is None:
        return 0
    queue = ClassQueue(store)
    print(f"se-demo worker {worker_id()} on {store.describe()}", flush=True)
    try:
        if args.backend == "ray":
            taken = work_on_ray(
                queue, url, address=args.ray_address, slots=args.slots, once=args.once,
                data_dir=args.data_dir,
            )  # fmt: skip
        else:
            taken = work(
                queue, once=args.once, data_dir=args.data_dir, threads=args.threads,
                should_exit=exiting.is_set,
            )  # fmt: skip
    finally:
        store.dispose()
    if args.once:
        print(f"trained {taken} run{'' if taken == 1 else 's'}", flush=True)
    return 0


def _open_when_reachable(url: str, exiting: threading.Event) -> Store | None:
    """The embedded worker waits for its store (a database server may start after the app)."""
    while not exiting.is_set():
        try:
            return open_store(url)
        except StoreError:
            exiting.wait(STORE_RETRY_S)
    return None


def _exit_with_parent(parent: int, exiting: threading.Event) -> None:
    """End this process when the server that started it is gone (also after SIGKILL).

    The run it was training is marked interrupted at once; nothing half-saved is shown.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        exiting.set()
        try:
            queue = ClassQueue(open_store())
            for run in queue.runs():
                if run.worker == worker_id() and run.state == RunState.RUNNING:
                    queue.mark_ended(
                        run.id, worker_id(), RunState.FAILED,
                        "interrupted: the server stopped while it trained; nothing was saved, "
                        "queue it again",
                    )  # fmt: skip
        finally:
            os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="se-demo-parent-watch", daemon=True).start()


def queue_command(args: argparse.Namespace) -> int:
    """``queue add|list|cancel``."""
    key = lecturer_key_from_env()
    queue = ClassQueue(open_store(), lecturer_key=key)
    try:
        if args.action == "add":
            request = RunRequest(
                MODEL_KINDS if args.model == "both" else (args.model,),
                ModelConfig(
                    reduction_ratio=args.reduction_ratio, squeeze=args.squeeze, gate=args.gate
                ),
                TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)}),
            )
            run_id = queue.submit(request, args.owner, key=key)
            print(f"{run_id} queued ({request.images:,} training images in all)")
        elif args.action == "cancel":
            queue.cancel(args.run_id, args.owner, key=key)
            print(f"{args.run_id}: {queue.run(args.run_id).state}")
        else:
            _print_runs(queue)
    except (LabLimitError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"error: no run {error} in the queue", file=sys.stderr)
        return 2
    finally:
        queue.store.dispose()
    return 0


def class_command(args: argparse.Namespace) -> int:
    """``class export|import``: the class's digits as files, and back."""
    key = lecturer_key_from_env()
    queue = ClassQueue(open_store(), lecturer_key=key)
    digits = ClassDigits(queue)
    try:
        if args.action == "export":
            arrays = digits.arrays(args.set)
            files = export_digits(arrays.images, arrays.labels, args.out, args.format)
            print(f"{len(arrays)} digits -> " + ", ".join(str(f) for f in files))
            return 0
        images, labels = read_digits(args.path)
        from se_demo.core.checkpoints import load_checkpoints
        from se_demo.drawing.answers import answer_many  # torch: the models answer every digit

        checkpoints = load_checkpoints(CHECKPOINT_DIR / DatasetName.MNIST)
        probabilities, excitations = answer_many(checkpoints, images)
        added = digits.add_many(images, labels, probabilities, excitations, session="import")
        print(f"added {added} digits to {digits.open_set().name}")
        return 0
    finally:
        queue.store.dispose()


def _print_runs(queue: ClassQueue) -> None:
    runs = queue.runs()
    waits = queue.waits(runs)
    print(f"{'run':<10} {'owner':<18} {'state':<10} {'place':<11} {'models':<20} test accuracy")
    for run in runs:
        place = "training" if run.state == RunState.RUNNING else ""
        if run.id in waits:
            place = f"{waits[run.id][0]} in queue"
        models = " + ".join(MODEL_TITLES[m] for m in run.request.models)
        accuracy = _test_accuracy(run)
        print(f"{run.id:<10} {run.owner:<18} {run.state:<10} {place:<11} {models:<20} {accuracy}")


def _test_accuracy(run: LabRun) -> str:
    path = run.path()
    if run.state != RunState.FINISHED or path is None:
        return "-"
    try:
        record = json.loads((path / "evaluation.json").read_text())
    except (OSError, ValueError):
        return "(its files are not on this machine)"
    return ", ".join(
        f"{MODEL_TITLES[n]} {100 * record['models'][n]['metrics']['accuracy']:.2f} %"
        for n in run.request.models
    )
