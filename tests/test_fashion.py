"""Fashion-MNIST: the shipped checkpoints and saved evaluation on the real test set."""

from __future__ import annotations

import numpy as np
import pytest

from se_demo.checkpoints import load_checkpoint
from se_demo.config import CHECKPOINT_DIR
from se_demo.data import load_split
from se_demo.evaluate import compute_metrics, predict
from se_demo.registry import MODEL_KINDS
from se_demo.results import load_evaluation

FASHION = CHECKPOINT_DIR / "fashion"


@pytest.fixture(scope="module")
def fashion_test(data_dir):
    if not (data_dir / "FashionMNIST" / "raw").is_dir():
        pytest.fail(
            f"Fashion-MNIST not found under {data_dir}: scripts/test.sh unpacks it from "
            "Debian's dataset-fashion-mnist"
        )
    return load_split(False, data_dir, download=False, dataset="fashion")


def test_fashion_checkpoints_and_saved_evaluation(fashion_test):
    saved = load_evaluation(FASHION)
    assert saved.record["dataset"] == "fashion"
    assert saved.record["data_sha256"] == fashion_test.checksum()
    labels = fashion_test.labels.numpy()
    for name in MODEL_KINDS:
        model, record = load_checkpoint(FASHION, name)
        assert record["dataset"] == "fashion"
        probs = predict(model, fashion_test.images, dataset="fashion").numpy()
        metrics = compute_metrics(labels, probs.argmax(1))
        assert metrics["accuracy"] > 0.90, metrics["accuracy"]  # chance: 0.10
        assert metrics == saved.metrics(name)
        np.testing.assert_allclose(saved.probabilities[name], probs, atol=1e-5)
        # normalised with Fashion-MNIST's own statistics: MNIST's would cost accuracy
        wrong = predict(model, fashion_test.images, dataset="mnist").numpy().argmax(1)
        assert np.mean(wrong == labels) < metrics["accuracy"]
