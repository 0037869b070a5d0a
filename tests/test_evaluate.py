"""The shipped checkpoints on the real MNIST and Fashion-MNIST test sets: the saved
evaluations against a fresh one, metrics, report and statistics."""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from se_demo.analysis.evaluate import compute_metrics
from se_demo.analysis.excitation import concat_batches, recording_excitations
from se_demo.analysis.excitation_stats import block_statistics
from se_demo.analysis.original_study import format_comparison, format_reference_report
from se_demo.analysis.results import (
    evaluation_mcnemar,
    load_evaluation,
    mcnemar_exact,
)
from se_demo.core.checkpoints import (
    Checkpoint,
    load_checkpoint,
    load_checkpoints,
    shared_dataset,
)
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.data import Split
from se_demo.core.inference import predict
from se_demo.core.registry import DATASETS, MODEL_KINDS, DatasetName
from tests.conftest import MNIST_CHECKPOINTS


@dataclass(frozen=True)
class Fresh:
    """One dataset's shipped models run afresh over its whole test set."""

    folder: Path
    split: Split
    checkpoints: dict[str, Checkpoint]
    probabilities: dict[str, np.ndarray]  # (N, 10) per model
    excitations: dict[str, dict[str, np.ndarray]]  # {model: {block: (N, C)}}


@pytest.fixture(scope="module")
def fresh(test_split: Split, fashion_test_split: Split) -> Callable[[str], Fresh]:
    """``fresh(dataset)``: each dataset is evaluated once, when a test first asks for it."""
    splits = {"mnist": test_split, "fashion": fashion_test_split}

    @functools.cache
    def evaluate(dataset: str) -> Fresh:
        folder = CHECKPOINT_DIR / dataset
        shipped = load_checkpoints(folder)
        assert shared_dataset(shipped).key == dataset
        probabilities, excitations = {}, {}
        for name, checkpoint in shipped.items():
            with recording_excitations(checkpoint.model) as store:  # answers and excitations
                probs = checkpoint.predict(splits[dataset].images)
            probabilities[name] = probs.numpy()
            excitations[name] = {b: x.numpy() for b, x in concat_batches(store).items()}
        return Fresh(folder, splits[dataset], shipped, probabilities, excitations)

    return evaluate


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_saved_evaluation_equals_a_fresh_one(dataset: str, fresh: Callable[[str], Fresh]):
    run = fresh(dataset)
    saved = load_evaluation(run.folder)
    labels = run.split.labels.numpy()
    assert saved.record["dataset"] == dataset
    assert saved.record["data_sha256"] == run.split.checksum()
    np.testing.assert_array_equal(saved.labels, labels)
    for name in MODEL_KINDS:
        record = run.checkpoints[name].record
        assert record["dataset"] == dataset
        assert record["test_data_sha256"] == run.split.checksum()
        np.testing.assert_allclose(saved.probabilities[name], run.probabilities[name], atol=1e-5)
        metrics = compute_metrics(labels, run.probabilities[name].argmax(1))
        assert saved.metrics(name) == metrics
        assert record["test_metrics"]["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-9)
    right = {name: run.probabilities[name].argmax(1) == labels for name in MODEL_KINDS}
    assert evaluation_mcnemar(saved) == mcnemar_exact(right["cnn"], right["senet"])
    assert saved.record["mcnemar"]["first"] == "cnn"  # read from the record, not recomputed
    # The excitations, saved as float16, and what the pages derive from them.
    excitations = run.excitations["senet"]
    assert list(saved.excitations["senet"]) == list(excitations)
    summary = saved.record["models"]["senet"]
    for block, values in excitations.items():
        np.testing.assert_allclose(saved.excitations["senet"][block], values, atol=1e-3)
        np.testing.assert_allclose(
            summary["mean_excitation"][block], values.mean(0, dtype=np.float64), atol=1e-6
        )
    for a, b in zip(
        block_statistics(excitations, labels),
        block_statistics(saved.excitations["senet"], labels),
        strict=True,
    ):
        assert a.block == b.block
        assert a.specificity == pytest.approx(b.specificity, abs=2e-3)
        assert a.between_std == pytest.approx(b.between_std, abs=1e-3)
    assert saved.excitations["cnn"] == run.excitations["cnn"] == {}


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_shipped_checkpoint_beats_the_seed_in_few_epochs(name):
    # The saved accuracy: test_saved_evaluation_equals_a_fresh_one checks it afresh.
    accuracy = load_evaluation(MNIST_CHECKPOINTS).metrics(name)["accuracy"]
    assert accuracy >= 0.9950, accuracy
    assert accuracy > DATASETS[DatasetName.MNIST].reference[name]["accuracy"]
    assert load_checkpoint(MNIST_CHECKPOINTS, name).record["epochs"] <= 8


@pytest.mark.slow
def test_fashion_models_need_fashion_normalisation(fresh):
    run = fresh("fashion")
    labels = run.split.labels.numpy()
    first = slice(0, 2_000)  # 6 points apart or more already; all 10,000 take 5x as long
    for name, checkpoint in run.checkpoints.items():
        accuracy = float(np.mean(run.probabilities[name].argmax(1) == labels))
        assert accuracy > 0.90, accuracy  # chance: 0.10
        # normalised with Fashion-MNIST's own statistics: MNIST's would cost accuracy
        right = run.probabilities[name][first].argmax(1) == labels[first]
        wrong = predict(checkpoint.model, run.split.images[first], dataset="mnist").numpy()
        wrong = wrong.argmax(1)
        assert np.mean(wrong == labels[first]) < np.mean(right)


def test_metrics_match_a_hand_computed_case():
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 9])
    preds = np.array([0, 1, 1, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 8])
    metrics = compute_metrics(labels, preds)
    assert metrics["accuracy"] == pytest.approx(11 / 14)
    # class 0: predicted 0 twice (one right) -> precision 1/2; recall 1/2
    assert metrics["per_class"]["precision"][0] == pytest.approx(0.5)
    assert metrics["per_class"]["recall"][1] == pytest.approx(1.0)
    assert metrics["per_class"]["precision"][1] == pytest.approx(2 / 3)
    assert metrics["confusion"][2] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert metrics["f1"] == pytest.approx(f1_score(labels, preds, average="macro"))
    assert sum(map(sum, metrics["confusion"])) == 14


def test_mcnemar_against_a_hand_computed_case():
    # 8 images only the first model gets right, 2 only the second, 90 both right.
    first = np.array([True] * 8 + [False] * 2 + [True] * 90)
    second = np.array([False] * 8 + [True] * 2 + [True] * 90)
    result = mcnemar_exact(first, second)
    assert (result.only_first_correct, result.only_second_correct) == (8, 2)
    expected = 2 * sum(math.comb(10, k) for k in range(3)) / 2**10  # 0.109375
    assert result.p_value == pytest.approx(expected)
    assert not result.significant()
    lopsided = mcnemar_exact(np.array([True] * 20), np.array([False] * 20))
    assert lopsided.p_value == pytest.approx(2 / 2**20)
    assert lopsided.significant()
    assert f"{lopsided.p_value:.3g}" == "1.91e-06"
    reversed_ = mcnemar_exact(np.array([False] * 20), np.array([True] * 20))
    assert (reversed_.only_first_correct, reversed_.only_second_correct) == (0, 20)
    assert reversed_.p_value == lopsided.p_value
    assert mcnemar_exact(np.array([True, False]), np.array([True, False])).p_value == 1.0


def test_reference_report_layout():
    metrics = load_evaluation(MNIST_CHECKPOINTS).metrics("cnn")
    report = format_reference_report("Basic CNN", metrics)
    lines = report.splitlines()
    assert lines[0] == "Basic CNN"
    matrix_rows = [line.split() for line in lines if len(line.split()) == 11]
    assert [list(map(int, row[1:])) for row in matrix_rows] == metrics["confusion"]
    class_rows = [line.split() for line in lines if len(line.split()) == 5 and "." in line]
    assert len(class_rows) == 10
    assert all(len(value.split(".")[1]) == 5 for row in class_rows for value in row[1:4])
    assert f"total accuracy {metrics['accuracy']:.5f}" in report
    table = format_comparison({"cnn": metrics, "senet": metrics}, DATASETS["mnist"].reference)
    assert "0.99340" in table
    assert "0.99350" in table
    assert "+0.00000" in table  # SENet - CNN


@pytest.mark.slow
def test_cli_evaluate_prints_the_report_and_saves_results(tmp_path, data_dir):
    for path in MNIST_CHECKPOINTS.glob("*"):
        if not path.name.startswith("evaluation"):
            shutil.copy(path, tmp_path / path.name)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "se_demo",
            "evaluate",
            "--data-dir",
            str(data_dir),
            "--checkpoint-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("total accuracy") == 2
    assert "SENet - CNN" in run.stdout
    saved = load_evaluation(tmp_path)
    shipped_eval = load_evaluation(MNIST_CHECKPOINTS)
    for name in MODEL_KINDS:
        assert saved.metrics(name) == shipped_eval.metrics(name)


@pytest.mark.slow  # a fresh process importing torch: ~5 s on two busy cores
def test_cli_reports_missing_data_clearly(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "se_demo", "train", "--dry-run", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert "MNIST is not available" in run.stderr
    assert "Traceback" not in run.stderr
