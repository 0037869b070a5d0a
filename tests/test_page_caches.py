"""The pages' caches are keyed by the saved files' content, not by their folder alone: a
result saved again while the server runs (``python -m se_demo evaluate``, ``channels``,
``robustness``, a run's SE interventions arriving) is seen at the next rerun, with no
restart and no cache cleared. The caches that grow with the runs people view are bounded.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import resources
from se_demo.analysis.evaluate import save_evaluation
from se_demo.analysis.excitation_stats import class_means
from se_demo.analysis.results import load_evaluation
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.files import write_json_atomic

MNIST = CHECKPOINT_DIR / "mnist"
ROBUSTNESS_PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "robustness.py")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A checkpoint folder of our own, a copy of the shipped MNIST one."""
    copy = tmp_path / "mnist"
    shutil.copytree(MNIST, copy)
    return copy


def _rewrite(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Save ``folder/name.json`` again, changed, as the CLI saves it (atomically)."""
    path = folder / f"{name}.json"
    record = json.loads(path.read_text())
    change(record)
    write_json_atomic(path, record)


def test_an_evaluation_saved_again_is_read_again(folder: Path) -> None:
    first = resources.load_results(folder)
    assert resources.load_results(folder) is first  # unchanged files: the cached evaluation
    means = resources.load_class_means(folder)
    # `evaluate` run again on other weights: new tensors, a new record naming them.
    saved = load_evaluation(folder)
    halved = {block: values / 2 for block, values in saved.excitations["senet"].items()}
    save_evaluation(
        dataclasses.replace(saved, excitations={**saved.excitations, "senet": halved}), folder
    )
    second = resources.load_results(folder)
    assert second is not first
    for block, values in halved.items():
        np.testing.assert_array_equal(second.excitations["senet"][block], values)
        np.testing.assert_array_equal(
            resources.load_class_means(folder)[block], class_means(values, second.labels)
        )
        assert not np.array_equal(resources.load_class_means(folder)[block], means[block])


def test_interventions_added_to_a_saved_evaluation_are_read_again(folder: Path) -> None:
    # A lab run is shown before its SE interventions are measured; only its record changes.
    _rewrite(folder, "evaluation", lambda record: record["models"]["senet"].pop("se_interventions"))
    assert "se_interventions" not in resources.load_results(folder).record["models"]["senet"]
    shipped = json.loads((MNIST / "evaluation.json").read_text())["models"]["senet"]
    _rewrite(
        folder,
        "evaluation",
        lambda record: record["models"]["senet"].update(
            se_interventions=shipped["se_interventions"]
        ),
    )
    summary = resources.load_results(folder).record["models"]["senet"]
    assert summary["se_interventions"] == shipped["se_interventions"]


def test_channel_effects_saved_again_are_read_again(folder: Path) -> None:
    first = resources.load_saved_channel_effects(folder)
    assert first is not None
    block = next(iter(first))
    before = {effect.channel: effect.accuracy for effect in first[block]}

    def remove_nothing_from_channel_0(record: dict[str, Any]) -> None:
        record["removed_correct"][block][0] = record["trained_correct"]

    _rewrite(folder, "channel_effects", remove_nothing_from_channel_0)
    effects = resources.load_saved_channel_effects(folder)
    assert effects is not None
    after = {effect.channel: effect for effect in effects[block]}
    assert after[0].change == 0
    assert after[0].accuracy != before[0]
    # Measured on other weights than the SENet's: not shown at all.
    _rewrite(folder, "channel_effects", lambda record: record.update(senet_weights_sha256="0"))
    assert resources.load_saved_channel_effects(folder) is None


def test_the_robustness_page_shows_a_sweep_saved_again_without_a_restart(
    folder: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))
    at = AppTest.from_file(ROBUSTNESS_PAGE, default_timeout=120)
    at.session_state["model_dir"] = str(folder)
    at.run()
    assert not at.exception, at.exception
    mean = resources.load_sweep(folder).record["summary"]["cnn"]["mean"]
    assert at.metric[0].value == f"{100 * mean:.1f} %"
    _rewrite(folder, "robustness", lambda record: record["summary"]["cnn"].update(mean=0.5))
    at.run()  # the next rerun, in the same server: the caches are as they were
    assert not at.exception, at.exception
    assert at.metric[0].value == "50.0 %"


def _folders(tmp_path: Path, count: int, names: tuple[str, ...]) -> list[Path]:
    """``count`` checkpoint folders holding the shipped ``names`` (records copied, their
    tensors linked): as many distinct entries for the caches."""
    folders = []
    for index in range(count):
        folder = tmp_path / f"run{index}"
        folder.mkdir()
        for name in names:
            shutil.copy(MNIST / f"{name}.json", folder)
            tensors = json.loads((MNIST / f"{name}.json").read_text())["weights_file"]
            (folder / tensors).symlink_to(MNIST / tensors)
        folders.append(folder)
    return folders


@pytest.mark.parametrize(
    ("load", "names", "bound"),
    [
        (resources.load_results, ("evaluation",), 4 * resources.FOLDERS_KEPT),
        (resources.load_sweep, ("robustness",), resources.FOLDERS_KEPT),
        (resources.load_models, ("cnn", "senet"), resources.FOLDERS_KEPT),
    ],
    ids=["evaluations", "sweeps", "models"],
)
def test_the_caches_of_the_runs_viewed_are_bounded(
    tmp_path: Path, load: Callable[[Path], Any], names: tuple[str, ...], bound: int
) -> None:
    folders = _folders(tmp_path, bound + 1, names)
    first = load(folders[0])
    kept = [load(folder) for folder in folders[1:]]
    # The last `bound` folders viewed are still cached; the first one made way for them.
    assert all(load(folder) is value for folder, value in zip(folders[1:], kept, strict=True))
    assert load(folders[0]) is not first
