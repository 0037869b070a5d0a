"""The shipped checkpoints on the real MNIST test set, metrics, report and statistics."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score

from se_demo.checkpoints import load_checkpoint
from se_demo.evaluate import compute_metrics, predict
from se_demo.excitation import capture_excitations
from se_demo.registry import DATASETS, MODEL_KINDS, DatasetName
from se_demo.results import (
    evaluation_mcnemar,
    format_comparison,
    format_reference_report,
    load_evaluation,
    mcnemar_exact,
)
from tests.conftest import MNIST_CHECKPOINTS


@pytest.fixture(scope="module")
def shipped():
    return {name: load_checkpoint(MNIST_CHECKPOINTS, name) for name in MODEL_KINDS}


@pytest.fixture(scope="module")
def fresh_probabilities(shipped, test_split):
    return {
        name: predict(model, test_split.images, dataset=DatasetName.MNIST).numpy()
        for name, (model, _) in shipped.items()
    }


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_shipped_checkpoint_beats_the_seed_in_few_epochs(
    name, shipped, fresh_probabilities, test_split
):
    _, record = shipped[name]
    accuracy = float(np.mean(fresh_probabilities[name].argmax(1) == test_split.labels.numpy()))
    assert accuracy >= 0.9950, accuracy
    assert accuracy > DATASETS[DatasetName.MNIST].reference[name]["accuracy"]
    assert record["epochs"] <= 8
    assert record["test_metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert record["test_data_sha256"] == test_split.checksum()


def test_saved_evaluation_equals_a_fresh_one(shipped, fresh_probabilities, test_split):
    saved = load_evaluation(MNIST_CHECKPOINTS)
    labels = test_split.labels.numpy()
    np.testing.assert_array_equal(saved.labels, labels)
    assert saved.record["data_sha256"] == test_split.checksum()
    for name in MODEL_KINDS:
        np.testing.assert_allclose(saved.probabilities[name], fresh_probabilities[name], atol=1e-5)
        fresh = compute_metrics(labels, fresh_probabilities[name].argmax(1))
        assert saved.metrics(name) == fresh
    right = {name: fresh_probabilities[name].argmax(1) == labels for name in MODEL_KINDS}
    assert evaluation_mcnemar(saved) == mcnemar_exact(right["cnn"], right["senet"])
    assert saved.record["mcnemar"]["first"] == "cnn"  # read from the record, not recomputed
    excitations = capture_excitations(
        shipped["senet"][0], test_split.images, dataset=DatasetName.MNIST
    )
    assert list(saved.excitations["senet"]) == list(excitations)
    for block, values in excitations.items():
        np.testing.assert_allclose(saved.excitations["senet"][block], values.numpy(), atol=1e-3)
    assert saved.excitations["cnn"] == {}


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


def test_seed_report_layout(shipped, fresh_probabilities, test_split):
    metrics = compute_metrics(test_split.labels.numpy(), fresh_probabilities["cnn"].argmax(1))
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
