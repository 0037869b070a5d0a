"""One class on two replicas behind nginx with PostgreSQL: a run queued through replica 1
appears on replica 2, is trained exactly once (two workers compete for it) and is usable
on both; digits added through both replicas appear once each on both."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from se_demo.classroom.store import DB_ENV_VAR, class_digits, lab_runs, open_store
from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT, RUNS_ENV_VAR
from tools.canvas import CANVAS, DIGITS, draw
from tools.postgres import PostgresServer
from tools.replicas import Deployment, start_replicas

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 300_000  # a tiny run of both models, evaluation included, on 2 busy cores


@pytest.fixture(scope="module")
def deployment(
    postgres: PostgresServer, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    url = postgres.create_database("replicas_class")
    running = start_replicas(
        2, tmp_path_factory.mktemp("replicas"), data_dir=str(data_dir), store_url=url
    )
    # A second worker, as on another machine: the two compete for every queued run.
    env = {**os.environ, DB_ENV_VAR: url, RUNS_ENV_VAR: str(running.workdir / "runs"),
           DATA_ENV_VAR: str(data_dir)}  # fmt: skip
    rival = subprocess.Popen([sys.executable, "-m", "se_demo", "worker"], cwd=PROJECT_ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    yield running
    rival.terminate()
    rival.wait(30)
    running.stop()
    for replica in running.replicas:
        assert "Traceback" not in replica.output(), replica.output()


def _contexts_on_each_replica(browser: Browser, deployment: Deployment) -> list[BrowserContext]:
    """One browser context (its nginx cookie) per replica, in the replicas' order."""
    wanted = [r.url.removeprefix("http://") for r in deployment.replicas]
    found: dict[str, BrowserContext] = {}
    for _ in range(40):  # placed at random: 40 misses in a row has p = 2^-39
        context = browser.new_context(base_url=deployment.url)
        response = context.request.get("/train")
        upstream = response.headers.get("x-upstream")
        if upstream in wanted and upstream not in found:
            found[upstream] = context
        else:
            context.close()
        if len(found) == len(wanted):
            return [found[u] for u in wanted]
    raise AssertionError(f"nginx placed no browser on some replica: {sorted(found)}")


def _open_lab(context: BrowserContext) -> Page:
    page = context.new_page()
    page.goto("/train")
    expect(page.get_by_role("heading", name="Training lab")).to_be_visible(timeout=60_000)
    return page


def test_a_run_queued_on_one_replica_trains_once_and_serves_both(
    browser: Browser, deployment: Deployment
) -> None:
    one, two = (_open_lab(c) for c in _contexts_on_each_replica(browser, deployment))
    for label in ("Epochs", "Training images"):  # the smallest run: 1 epoch, 1,000 images
        one.get_by_role("slider", name=label).press("Home")
    expect(one.get_by_role("slider", name="Training images")).to_have_attribute(
        "aria-valuetext", "1,000 (smoke test)"
    )
    one.get_by_role("button", name="Queue this run").click()
    # Replica 2 reads the same store: the run shows there, as another student's.
    expect(two.get_by_text("The run of ")).to_be_visible(timeout=20_000)
    expect(one.get_by_text("Your run finished")).to_be_visible(timeout=RUN_TIMEOUT_MS)

    store = open_store(deployment.store_url)
    with store.read() as connection:
        rows = connection.execute(select(lab_runs)).all()
    store.dispose()
    (row,) = rows  # recorded once
    assert row.state == "finished", row.message
    folders = list((deployment.workdir / "runs" / "mnist").iterdir())
    assert [p.name for p in folders] == [Path(row.run_dir).name]  # trained and saved once

    for page in (two, one):  # usable from both replicas
        page.reload()
        cell = page.locator("td[role=gridcell]", has_text=Path(row.run_dir).name)
        expect(cell).to_be_attached(timeout=60_000)  # the finished runs' table (a canvas)
        choice = page.get_by_role("combobox", name="Models shown on the other pages")
        choice.click()
        choice.press("ArrowDown")  # opens the list
        page.get_by_role("option", name=Path(row.run_dir).name).click()
        expect(page.get_by_text(f"From the run {Path(row.run_dir).name}")).to_be_visible(
            timeout=60_000
        )


def test_digits_added_through_both_replicas_appear_once_on_both(
    browser: Browser, deployment: Deployment
) -> None:
    contexts = _contexts_on_each_replica(browser, deployment)
    for context, digit in zip(contexts, (7, 1), strict=True):
        page = context.new_page()
        page.goto("/draw")
        expect(page.locator(CANVAS)).to_be_visible(timeout=60_000)
        draw(page, DIGITS[digit])
        expect(page.locator(".st-key-draw_answer_senet")).to_be_visible(timeout=60_000)
        box = page.locator(".st-key-class_add_box")
        box.get_by_role("radio", name=str(digit), exact=True).click()
        box.get_by_role("button", name="Add my digit").click()
        expect(box.get_by_text(f"Added as a {digit}")).to_be_visible(timeout=60_000)
    for context in contexts:  # each replica's class page reads both digits, once each
        page = context.new_page()
        page.goto("/our-class-digits")
        drawn = page.locator('[data-testid="stMetric"]', has_text="Digits drawn")
        expect(drawn.locator('[data-testid="stMetricValue"]')).to_have_text("2", timeout=60_000)
    store = open_store(deployment.store_url)
    with store.read() as connection:
        labels = sorted(connection.execute(select(class_digits.c.label)).scalars())
    store.dispose()
    assert labels == [1, 7]
