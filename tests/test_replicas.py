"""Two app replicas behind nginx: a session stays on one replica, and both replicas serve."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from se_demo.core.data import Split
from tools.canvas import canvas_png
from tools.replicas import Deployment, start_replicas
from tools.ws_session import DrawSession, run_blocking

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two replicas and nginx on loopback (nginx must be installed: apt-get install nginx)."""
    running = start_replicas(2, tmp_path_factory.mktemp("replicas"), data_dir=str(data_dir))
    yield running
    running.stop()
    for replica in running.replicas:
        assert "Traceback" not in replica.output(), replica.output()


def _drawings(test_split: Split, count: int) -> list[tuple[str, int]]:
    rng = np.random.default_rng(0)
    return [
        (canvas_png(test_split.images[i].numpy(), rng), int(test_split.labels[i]))
        for i in range(count)
    ]


def test_a_session_stays_on_one_replica(deployment: Deployment, test_split: Split) -> None:
    replicas = {r.url.removeprefix("http://") for r in deployment.replicas}

    async def student() -> tuple[list[str | None], list[str], list[int]]:
        first = DrawSession(deployment.url)
        await first.open()
        upstreams = [first.page_upstream, first.response_headers.get("x-upstream")]
        answers = []
        for png, _ in _drawings(test_split, 3):
            answers.append((await first.draw(png)).metrics["senet"])
        await first.close()
        # The same browser (its cookie) comes back, e.g. after a reload: same replica.
        again = DrawSession(deployment.url)
        again.cookie = first.cookie
        await again.open()
        upstreams += [again.page_upstream, again.response_headers.get("x-upstream")]
        await again.close()
        return upstreams, answers, [label for _, label in _drawings(test_split, 3)]

    upstreams, answers, labels = run_blocking(student())
    assert len(set(upstreams)) == 1, upstreams
    assert upstreams[0] in replicas
    assert answers == [str(label) for label in labels]


def test_both_replicas_serve(deployment: Deployment, test_split: Split) -> None:
    replicas = {r.url.removeprefix("http://") for r in deployment.replicas}
    png, label = _drawings(test_split, 1)[0]

    async def one_student() -> tuple[str | None, str]:
        session = DrawSession(deployment.url)
        await session.open()
        run = await session.draw(png)
        await session.close()
        return session.response_headers.get("x-upstream"), run.metrics["senet"]

    async def class_of(count: int) -> list[tuple[str | None, str]]:
        return list(await asyncio.gather(*(one_student() for _ in range(count))))

    # 16 students without cookies, placed at random: all on one replica has p = 2 * 2^-16.
    results = run_blocking(class_of(16))
    assert {upstream for upstream, _ in results} == replicas
    assert {answer for _, answer in results} == {str(label)}
