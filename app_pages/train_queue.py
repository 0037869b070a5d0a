"""The Training lab's shared queue as students and the lecturer see it, and its wording.

Every replica reads the same queue from the class's store; the view refreshes itself
(every second while runs are active, every two otherwise), so a run queued on another
replica appears within two seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from functools import partial

import streamlit as st

from se_demo.analysis.verdicts import undertrained_note
from se_demo.classroom.queue import (
    ACTIVE,
    ClassQueue,
    LabLimits,
    LabRun,
    RunState,
)
from se_demo.classroom.store import StoreError
from se_demo.core.config import TRAIN_IMAGES
from se_demo.core.registry import MODEL_TITLES, ModelKind
from se_demo.figures.training import training_curves
from se_demo.training.runs import list_runs
from se_demo.words import percent

BUSY_REFRESH_S = 1.0
IDLE_REFRESH_S = 2.0
_ADJECTIVES = (
    "amber", "brave", "calm", "clever", "cosy", "eager", "gentle", "happy", "jolly", "keen",
    "lively", "lucky", "merry", "nimble", "polite", "proud", "quick", "quiet", "shy", "sunny",
    "swift", "tidy", "wise", "witty",
)  # fmt: skip
_ANIMALS = (
    "badger", "beaver", "crane", "dolphin", "falcon", "ferret", "gecko", "heron", "ibis",
    "koala", "lemur", "lynx", "marten", "newt", "otter", "panda", "puffin", "quail", "robin",
    "seal", "stoat", "tapir", "walrus", "wren",
)  # fmt: skip


def anonymous_name(owner: str) -> str:
    """A short name for an owner token that says nothing about the student: 'quiet otter 12'."""
    digest = hashlib.sha256(owner.encode()).digest()
    return (
        f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]} {_ANIMALS[digest[1] % len(_ANIMALS)]} "
        f"{digest[2] % 100}"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    return f"{seconds / 60:.0f} min"


def describe_wait(position: int, seconds: float, now: float) -> str:
    """'Your run is number 2 in the queue: it should start in about 40 s (around 02:31:05 UTC).'"""
    start = dt.datetime.fromtimestamp(now + seconds, dt.UTC).strftime("%H:%M:%S UTC")
    return (
        f"Your run is number {position} in the queue: it should start in about "
        f"{_duration(seconds)} (around {start})."
    )


def queue_rows(runs: list[LabRun], waits: dict[str, tuple[int, float]], owner: str) -> list[dict]:
    """The queue as table rows: runs still queued or running, in order."""
    rows = []
    for run in runs:
        if run.state not in ACTIVE:
            continue
        config = run.request.train_config
        position, seconds = waits.get(run.id, (0, 0.0))
        rows.append(
            {
                "place": "training" if run.state == RunState.RUNNING else f"{position} in queue",
                "queued by": "you" if run.owner == owner else anonymous_name(run.owner),
                "models": " + ".join(MODEL_TITLES[m] for m in run.request.models),
                "recipe": f"{config.epochs} epochs x "
                f"{config.train_subset or TRAIN_IMAGES:,} images",
                "starts in": "now" if run.state == RunState.RUNNING else f"~{_duration(seconds)}",
            }
        )
    return rows


def _progress_line(run: LabRun) -> str:
    p = run.progress
    if p is None:
        return "loading the data..."
    return (
        f"{MODEL_TITLES[run.model or ModelKind.CNN]}: epoch {p['epoch']}, step {p['step']}/"
        f"{p['steps_per_epoch']}, loss {p['loss']:.4f}, training accuracy "
        f"{percent(p['accuracy'], 2)}, {p['images_per_second']:,.0f} images/s. {run.message}"
    )


def _show_run(queue: ClassQueue, run: LabRun, owner: str) -> None:
    """One run: its state, progress, live curves and (for its owner) the cancel button."""
    mine = run.owner == owner
    who = "Your run" if mine else f"The run of {anonymous_name(run.owner)}"
    if run.state == RunState.RUNNING:
        share = run.images_done / run.images
        st.progress(min(share, 1.0), text=f"{who}: {_progress_line(run)}")
    elif run.state == RunState.FINISHED:
        st.success(f"{who} finished: {run.message}.", icon=":material/check_circle:")
        _undertrained_notes(run)
    elif run.state == RunState.QUEUED:
        st.info(f"{who} is waiting in the queue.")
    else:
        st.info(f"{who}: {run.message}.")
    if run.curve:
        st.plotly_chart(  # no toolbar: it would sit over the subplot titles
            training_curves(run.curve, MODEL_TITLES),
            key=f"curves_{run.id}",
            config={"displayModeBar": False},
        )
    if mine and run.state in ACTIVE:
        st.button(
            "Cancel my run",
            key=f"cancel_{run.id}",
            icon=":material/cancel:",
            on_click=queue.cancel,
            args=(run.id, owner),
        )


def _undertrained_notes(run: LabRun) -> None:
    """A warning for each model the run trained too little to judge SE by."""
    path = run.path()
    saved = next((r for r in list_runs(run.request.train_config.dataset) if r.path == path), None)
    if saved is None:
        return
    for name in run.request.models:
        note = undertrained_note(saved.records[name], saved.accuracy[name], saved.dataset)
        if note:
            st.warning(f"{MODEL_TITLES[name]}: {note}", icon=":material/warning:")


def show_queue(queue: ClassQueue, owner: str) -> None:
    """The class's queue, the run training now and this session's latest run."""
    try:
        runs = queue.runs()
        waits = queue.waits(runs)
        speed, _, measured = queue.speeds()
    except StoreError as error:
        st.error(f"The lab's queue cannot be read right now ({error}); it retries by itself.")
        return
    rows = queue_rows(runs, waits, owner)
    mine = next((r for r in runs if r.id == st.session_state.get("my_run")), None)
    if rows:
        st.dataframe(rows, hide_index=True, key="queue_table")
        basis = (
            f"the median of the last {measured} finished {'run' if measured == 1 else 'runs'}"
            if measured
            else "python -m bench.train_speed on this machine, until a run measures it"
        )
        st.caption(f"Estimates assume {speed:,.0f} training images/s, from {basis}.")
    else:
        st.caption("No run is queued or training.")
    if mine is not None and mine.id in waits:
        st.info(describe_wait(*waits[mine.id], time.time()), icon=":material/schedule:")
    running = next((r for r in runs if r.state == RunState.RUNNING), None)
    if running is not None and (mine is None or running.id != mine.id):
        _show_run(queue, running, owner)
    if mine is not None:
        _show_run(queue, mine, owner)
    active = sum(run.state in ACTIVE for run in runs)
    if active < st.session_state.get("active_runs", 0):
        st.session_state["active_runs"] = active
        st.rerun()  # a run ended: refresh the list of finished runs below
    st.session_state["active_runs"] = active
    if st.session_state.get("lecturer_unlocked"):
        _lecturer_queue(queue, runs)


def _lecturer_queue(queue: ClassQueue, runs: list[LabRun]) -> None:
    """Cancel buttons for every active run, for the lecturer."""
    key = st.session_state.get("lecturer_key_input")
    for run in runs:
        if run.state not in ACTIVE:
            continue
        st.button(
            f"Cancel the run of {anonymous_name(run.owner)} ({run.state})",
            key=f"lecturer_cancel_{run.id}",
            icon=":material/block:",
            on_click=partial(queue.cancel, run.id, None, key=key),
        )


def lecturer_controls(queue: ClassQueue) -> None:
    """The lecturer's key and, once it is right, pause, limits and clearing the runs."""
    with st.expander("Lecturer's controls", icon=":material/key:"):
        if not queue.has_lecturer_key():
            st.caption(
                "No lecturer's key is set on this server: set `lecturer_key` in "
                "`.streamlit/secrets.toml` or `SE_DEMO_LECTURER_KEY` to unlock pausing the "
                "lab, cancelling any run, the per-student limits and clearing the runs."
            )
            return
        key = st.text_input("Lecturer's key", type="password", key="lecturer_key_input")
        unlocked = queue.is_lecturer(key)
        st.session_state["lecturer_unlocked"] = unlocked
        if not key:
            return
        if not unlocked:
            st.error("That is not the lecturer's key.")
            return
        limits = queue.limits()
        with st.form("lecturer_limits"):
            paused = st.toggle("Lab paused (no run starts, no student queues)", limits.paused)
            runs = st.number_input(
                "Runs each student may have queued or training", 1, 20, limits.max_active_runs
            )
            images = st.number_input(
                "Training images per model per run (epochs x images)",
                1_000, 6_000_000, limits.max_images_per_run, step=10_000,
            )  # fmt: skip
            if st.form_submit_button("Apply"):
                queue.set_limits(LabLimits(paused, int(runs), int(images)), key)
                st.rerun()
        confirm = st.checkbox("Yes, delete the class's ended runs and their saved files")
        if st.button("Clear the class's ended runs", disabled=not confirm):
            cleared = queue.clear_ended(key)
            st.success(f"Cleared {cleared} ended {'run' if cleared == 1 else 'runs'}.")
