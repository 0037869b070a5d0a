"""Verdict wording: the shipped models, an undertrained run and a significant full run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from se_demo.analysis.results import evaluation_mcnemar, load_evaluation, mcnemar_exact
from se_demo.analysis.verdicts import compare_verdict, undertrained_note
from se_demo.core.config import CHECKPOINT_DIR


def _shipped(dataset: str):
    folder = CHECKPOINT_DIR / dataset
    records = {n: json.loads((folder / f"{n}.json").read_text()) for n in ("cnn", "senet")}
    evaluation = load_evaluation(folder)
    accuracies = {n: evaluation.metrics(n)["accuracy"] for n in records}
    return records, accuracies, evaluation_mcnemar(evaluation)


def test_shipped_mnist_models_are_not_undertrained_and_not_significant():
    records, accuracies, mcnemar = _shipped("mnist")
    verdict = compare_verdict(records, accuracies, "mnist", mcnemar)
    assert verdict.undertrained == {}
    assert verdict.tone == "info"
    assert "neither model can be called better" in verdict.text
    assert "Seeds and ablations" in verdict.text
    for name in records:
        assert undertrained_note(records[name], accuracies[name], "mnist") is None


def test_significant_full_run_names_the_better_model_and_its_scope():
    # The shipped Fashion-MNIST pair: 6 full epochs, McNemar p = 0.0008 (235 vs 167).
    records, accuracies, mcnemar = _shipped("fashion")
    assert mcnemar.p_value < 0.05
    verdict = compare_verdict(records, accuracies, "fashion", mcnemar)
    assert verdict.tone == "success"
    assert "on this test set, Basic CNN is the better model" in verdict.text
    assert "(p < 0.001)" in verdict.text  # 0.0008
    assert "one run each" in verdict.text
    assert "Seeds and ablations" in verdict.text


def _tiny_record() -> dict:
    return {"train": {"epochs": 1, "train_subset": 1000}, "epochs": 1}


def test_undertrained_run_only_says_the_runs_differ():
    # The tiny run: 1 epoch on 1,000 images, 45.21 % vs 55.33 %.
    rng = np.random.default_rng(0)
    cnn_right = rng.random(10_000) < 0.4521
    senet_right = rng.random(10_000) < 0.5533
    mcnemar = mcnemar_exact(cnn_right, senet_right)
    assert mcnemar.p_value < 1e-20  # as significant as in the issue
    records = {"cnn": _tiny_record(), "senet": _tiny_record()}
    accuracies = {"cnn": float(cnn_right.mean()), "senet": float(senet_right.mean())}
    verdict = compare_verdict(records, accuracies, "mnist", mcnemar)
    assert verdict.tone == "warning"
    assert "these two runs differ (p < 0.001)" in verdict.text  # not "p = 0"
    assert "is the better model" not in verdict.text
    assert "Basic CNN and SENet are undertrained" in verdict.text
    assert "Seeds and ablations" in verdict.text
    note = verdict.undertrained["senet"]
    assert "below 98 %" in note
    assert "1,000 training images, less than one epoch of 60,000" in note


@pytest.mark.parametrize(
    ("train", "accuracy", "dataset", "undertrained"),
    [
        ({"epochs": 6, "train_subset": None}, 0.979, "mnist", True),  # accuracy alone
        ({"epochs": 6, "train_subset": None}, 0.981, "mnist", False),
        ({"epochs": 5, "train_subset": 10_000}, 0.99, "mnist", True),  # 50,000 images seen
        ({"epochs": 6, "train_subset": 10_000}, 0.99, "mnist", False),  # 60,000: one epoch
        ({"epochs": 6, "train_subset": None}, 0.879, "fashion", True),
        ({"epochs": 6, "train_subset": None}, 0.881, "fashion", False),
    ],
)
def test_undertrained_thresholds(train, accuracy, dataset, undertrained):
    note = undertrained_note({"train": train}, accuracy, dataset)
    assert (note is not None) == undertrained
