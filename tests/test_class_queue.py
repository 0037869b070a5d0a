"""The lab's queue in the class's store, the same tests on SQLite and on a real PostgreSQL:
first in first out, one claim per run, owners and the lecturer, limits, dead workers,
many clients at once, and the schema's version."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, update

from se_demo.classroom.queue import (
    STALE_AFTER_S,
    ClassQueue,
    LabLimitError,
    LabLimits,
    RunState,
)
from se_demo.classroom.store import (
    SCHEMA_VERSION,
    StoreError,
    lab_runs,
    open_store,
    schema_info,
)
from se_demo.core.config import ModelConfig, RunRequest, TrainConfig
from tests.conftest import Clock

KEY = "lecturer-key-for-tests"
SMALL = RunRequest(("cnn",), ModelConfig(), TrainConfig(epochs=1, train_subset=1_000))
BIG = RunRequest(("senet",), ModelConfig(), TrainConfig(epochs=3, train_subset=None))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(store_url: str, clock: Clock):
    store = open_store(store_url)
    yield ClassQueue(store, lecturer_key=KEY, clock=clock)
    store.dispose()


def _generous(queue: ClassQueue) -> None:
    queue.set_limits(LabLimits(max_active_runs=100, max_images_per_run=10**9), KEY)


def test_runs_are_claimed_first_in_first_out_and_each_once(queue: ClassQueue) -> None:
    _generous(queue)
    ids = [queue.submit(SMALL, owner) for owner in ("a", "b", "a")]
    runs = queue.runs()
    assert [r.id for r in runs] == ids
    assert queue.waits(runs)[ids[2]][0] == 3
    claimed = [queue.claim(f"worker-{i}") for i in range(4)]
    assert [run.id if run else None for run in claimed] == [*ids, None]
    assert all(queue.run(i).state == RunState.RUNNING for i in ids)
    assert queue.run(ids[1]).worker == "worker-1"
    assert queue.run(ids[0]).request == SMALL  # the request survives the round trip


def test_concurrent_workers_never_claim_a_run_twice(queue: ClassQueue, store_url: str) -> None:
    _generous(queue)
    ids = {queue.submit(SMALL, "a") for _ in range(20)}
    stores = [open_store(store_url) for _ in range(8)]
    barrier = threading.Barrier(8)

    def worker(index: int) -> list[str]:
        mine, other = [], ClassQueue(stores[index])
        barrier.wait()
        while (run := other.claim(f"w{index}")) is not None:
            mine.append(run.id)
        return mine

    with ThreadPoolExecutor(8) as pool:
        claims = [run for runs in pool.map(worker, range(8)) for run in runs]
    for store in stores:
        store.dispose()
    assert sorted(claims) == sorted(ids)  # every run once, none twice


def test_fifty_clients_a_hundred_operations_every_run_recorded_once(
    queue: ClassQueue, store_url: str
) -> None:
    """100 queue operations from 50 concurrent clients, each with its own connection pool
    (as 50 sessions spread over replicas): every client queues a run, then half of them
    cancel it and half queue a second one."""
    _generous(queue)
    stores = [open_store(store_url) for _ in range(50)]
    barrier = threading.Barrier(50)

    def client(index: int) -> list[str]:
        mine, owner = ClassQueue(stores[index]), f"student-{index}"
        barrier.wait()
        first = mine.submit(SMALL, owner)
        if index % 2:
            mine.cancel(first, owner)
            return [first]
        return [first, mine.submit(SMALL, owner)]

    with ThreadPoolExecutor(50) as pool:
        sent = [run for runs in pool.map(client, range(50)) for run in runs]
    for store in stores:
        store.dispose()
    assert len(sent) == 75  # 75 submits and 25 cancels
    with queue.store.read() as connection:
        rows = connection.execute(select(lab_runs.c.id, lab_runs.c.state, lab_runs.c.owner)).all()
    assert sorted(r.id for r in rows) == sorted(sent)  # count in the store = count sent
    cancelled = [r for r in rows if r.state == RunState.CANCELLED]
    assert sorted(r.owner for r in cancelled) == sorted(f"student-{i}" for i in range(1, 50, 2))


def test_only_the_owner_or_the_lecturer_cancels(queue: ClassQueue) -> None:
    _generous(queue)
    running, queued = queue.submit(SMALL, "a"), queue.submit(SMALL, "a")
    queue.claim("w")
    with pytest.raises(PermissionError):
        queue.cancel(queued, "b")
    with pytest.raises(PermissionError):
        queue.cancel(queued, "b", key="wrong key")
    with pytest.raises(KeyError):
        queue.cancel("no-such-run", "a")
    queue.cancel(queued, "a")  # queued: never starts
    assert queue.run(queued).state == RunState.CANCELLED
    assert queue.run(queued).message == "cancelled by its owner before it started"
    assert queue.claim("w2") is None
    queue.cancel(running, None, key=KEY)  # running: the worker's heartbeat hears it
    assert queue.heartbeat(running, "w") == "lecturer"
    assert queue.run(running).state == RunState.RUNNING  # until the worker stops it


def test_limits_refuse_clearly_and_queue_nothing(queue: ClassQueue) -> None:
    assert queue.limits() == LabLimits()  # the defaults: 1 run, 120,000 images per model
    with pytest.raises(LabLimitError, match=r"asks for 180,000 training images.*allows 120,000"):
        queue.submit(BIG, "a")
    first = queue.submit(SMALL, "a")
    with pytest.raises(LabLimitError, match="You already have 1 run queued or training"):
        queue.submit(SMALL, "a")
    assert [r.id for r in queue.runs()] == [first]  # nothing else was queued
    queue.submit(SMALL, "b")  # another student is not limited by a's run
    assert queue.submit(BIG, "lecturer", key=KEY)  # the lecturer is under no limit
    queue.cancel(first, "a")
    queue.submit(SMALL, "a")  # a's run ended: a may queue again


def test_pause_stops_queueing_and_starting(queue: ClassQueue) -> None:
    waiting = queue.submit(SMALL, "a")
    queue.set_limits(LabLimits(paused=True), KEY)
    with pytest.raises(LabLimitError, match="paused the lab"):
        queue.submit(SMALL, "b")
    assert queue.claim("w") is None  # queued runs wait
    queue.set_limits(LabLimits(paused=False), KEY)
    assert queue.claim("w").id == waiting


@pytest.mark.parametrize("key", [None, "", "wrong key", KEY + " "])
def test_the_lecturers_controls_refuse_without_the_key(queue: ClassQueue, key) -> None:
    run = queue.submit(SMALL, "a")
    with pytest.raises(PermissionError):
        queue.set_limits(LabLimits(paused=True), key)
    with pytest.raises(PermissionError):
        queue.clear_ended(key)
    with pytest.raises(PermissionError):
        queue.cancel(run, "b", key=key)
    assert queue.limits() == LabLimits()
    assert queue.run(run).state == RunState.QUEUED


def test_no_lecturer_key_set_means_nobody_has_the_controls(store_url: str) -> None:
    store = open_store(store_url)
    queue = ClassQueue(store)  # no key configured
    assert not queue.has_lecturer_key()
    for key in (None, "", "anything"):
        assert not queue.is_lecturer(key)
        with pytest.raises(PermissionError):
            queue.set_limits(LabLimits(), key)
    store.dispose()


def test_a_dead_workers_run_is_marked_failed_and_the_next_one_starts(
    queue: ClassQueue, clock: Clock
) -> None:
    _generous(queue)
    first, second = queue.submit(SMALL, "a"), queue.submit(SMALL, "a")
    assert queue.claim("dead").id == first
    clock.now += STALE_AFTER_S - 1
    assert queue.reap_stale() == []  # still within its heartbeat bound
    clock.now += 2  # no heartbeat for longer than STALE_AFTER_S (15 s, under the 30 s bound)
    assert queue.claim("alive").id == second  # a claim reaps first
    dead = queue.run(first)
    assert dead.state == RunState.FAILED
    assert dead.message.startswith("interrupted: its worker stopped answering")
    assert dead.completed_at == clock.now
    assert queue.heartbeat(first, "dead") == "lost"  # a worker that comes back stops
    assert queue.heartbeat(second, "alive") is None


def test_a_page_that_looks_marks_a_stale_run_too(queue: ClassQueue, clock: Clock) -> None:
    run = queue.submit(SMALL, "a")
    queue.claim("dead")
    clock.now += STALE_AFTER_S + 1
    (seen,) = queue.runs()
    assert seen.id == run
    assert seen.state == RunState.FAILED


def test_clearing_deletes_ended_runs_and_their_folders(queue: ClassQueue, tmp_path: Path) -> None:
    _generous(queue)
    done, waiting = queue.submit(SMALL, "a"), queue.submit(SMALL, "b")
    queue.claim("w")
    folder = tmp_path / "runs" / "mnist" / f"some-run-{done}"
    folder.mkdir(parents=True)
    (folder / "cnn.json").write_text("{}")
    queue.mark_usable(done, "w", f"mnist/some-run-{done}", 2_000.0)
    queue.mark_ended(done, "w", RunState.FINISHED, "")
    assert queue.run(done).state == RunState.FINISHED
    assert queue.run(done).overhead_s is not None  # kept for the next estimates
    assert queue.clear_ended(KEY, root=tmp_path / "runs") == 1
    assert [r.id for r in queue.runs()] == [waiting]  # queued runs stay
    assert not folder.exists()


def test_estimates_use_the_speed_of_finished_runs(queue: ClassQueue, clock: Clock) -> None:
    _generous(queue)
    first = queue.submit(SMALL, "a")
    queue.claim("w")
    clock.now += 10
    queue.mark_usable(first, "w", "mnist/x", 500.0)
    clock.now += 5
    queue.mark_ended(first, "w", RunState.FINISHED, "")
    speed, overhead, measured = queue.speeds()
    assert (speed, measured) == (500.0, 1)
    assert overhead == pytest.approx(15 - 1_000 / 500)
    second, third = queue.submit(SMALL, "a"), queue.submit(SMALL, "b")
    waits = queue.waits(queue.runs())
    assert waits[second] == (1, 0.0)
    assert waits[third][1] == pytest.approx(1_000 / 500 + overhead)


def test_a_fresh_store_carries_its_schema_version(store_url: str) -> None:
    store = open_store(store_url)
    with store.read() as connection:
        version = connection.execute(
            select(schema_info.c.value).where(schema_info.c.key == "version")
        ).scalar_one()
    assert int(version) == SCHEMA_VERSION
    store.dispose()
    open_store(store_url).dispose()  # opening again changes nothing


def test_a_store_from_a_newer_se_demo_is_refused_with_what_to_do(store_url: str) -> None:
    store = open_store(store_url)
    with store.write() as connection:
        connection.execute(update(schema_info).values(value=str(SCHEMA_VERSION + 1)))
    store.dispose()
    with pytest.raises(StoreError, match=r"written by a newer se-demo.*upgrade se-demo"):
        open_store(store_url)


def test_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@/class?host={tmp_path}&port=5432"  # no server there
    with pytest.raises(StoreError, match=r"^the class's store \(postgresql database 'class'"):
        open_store(url)
