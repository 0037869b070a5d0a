"""Multi-seed comparison and ablations: statistics by hand, commands end to end on a tiny budget."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from scipy.stats import t as student_t

from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.training.experiment_results import (
    format_ablation_markdown,
    format_comparison_markdown,
    paired_statistics,
)
from se_demo.training.experiments import (
    ABLATION_VARIANTS,
    PAPER_IMAGENET,
    Variant,
    ablate,
    compare_over_seeds,
)


def test_paired_statistics_by_hand():
    cnn = [0.990, 0.980, 0.970, 0.985]
    senet = [0.992, 0.983, 0.969, 0.990]
    stats = paired_statistics(cnn, senet)
    diffs = [0.002, 0.003, -0.001, 0.005]
    assert stats["differences"] == pytest.approx(diffs)
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    t_value = mean / (sd / 2)
    assert stats["mean_difference"] == pytest.approx(mean)
    assert stats["std_difference"] == pytest.approx(sd)
    assert stats["ttest_p"] == pytest.approx(2 * student_t.sf(abs(t_value), df=3))
    # Wilcoxon signed-rank, exact: ranks of |d| = 2, 3, 1, 4; W- = 1, so
    # P(W <= 1) = 2 / 16 under H0 for n = 4 (both tails: 4 / 16).
    assert stats["wilcoxon_p"] == pytest.approx(0.25)
    assert (stats["second_wins"], stats["first_wins"]) == (3, 1)
    assert paired_statistics([0.9, 0.9], [0.9, 0.9])["ttest_p"] is None


def test_ablation_table_covers_the_paper_settings():
    labels = {(v.group, v.label) for v in ABLATION_VARIANTS}
    assert {f"r = {r}" for r in (1, 2, 4, 8, 16)} <= {label for _, label in labels}
    assert {("squeeze", s) for s in ("mean", "max", "sum")} <= labels
    assert {("gate", g) for g in ("sigmoid", "tanh", "relu")} <= labels
    assert set(PAPER_IMAGENET) <= labels


TINY = TrainConfig(epochs=1, train_subset=256, batch_size=64)


@pytest.mark.slow
def test_compare_runs_end_to_end(train_split, test_split):
    record = compare_over_seeds(TINY, [0, 1], train_split, test_split.subset(300))
    assert [r["seed"] for r in record["runs"]["senet"]] == [0, 1]
    assert record["accuracy"]["n"] == 2
    assert all(0.1 < r["accuracy"] <= 1 for rs in record["runs"].values() for r in rs)
    assert "Over 2 seeds" in record["summary"]
    assert "| mean ± std |" in format_comparison_markdown(record)


@pytest.mark.slow
def test_ablate_trains_shared_configurations_once(train_split, test_split):
    trained: list[tuple[str, int]] = []
    variants = [
        Variant("reduction ratio", "r = 2", ModelConfig(name="senet")),
        Variant("squeeze", "mean", ModelConfig(name="senet")),
        Variant("gate", "tanh", ModelConfig(name="senet", gate="tanh")),
    ]
    record = ablate(
        TINY,
        [0],
        train_split,
        test_split.subset(300),
        variants,
        on_progress=lambda label, seed, p: trained.append((label, seed)) if p.step == 1 else None,
    )
    assert trained == [("r = 2", 0), ("tanh", 0)]  # the default SE once, not twice
    assert record["rows"][0]["mean_accuracy"] == record["rows"][1]["mean_accuracy"]
    assert record["rows"][0]["paper_imagenet"]["top1_err"] == pytest.approx(22.29)
    assert "| gate | tanh |" in format_ablation_markdown(record)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["compare", "ablate"])
def test_cli_experiments_on_a_tiny_budget(command, tmp_path, data_dir):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "se_demo",
            command,
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--train-subset",
            "128",
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
    assert run.returncode == 0, run.stderr[-2000:]
    name = "comparison" if command == "compare" else "ablation"
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["seeds"] == [0, 1]
    assert record["train"]["train_subset"] == 128
    assert "| " in run.stdout
