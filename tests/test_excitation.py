"""SE excitations: capture, class statistics and interventions, on the shipped SENet and MNIST.

References are independent of the code under test: a hand-written SE forward pass,
scikit-learn's class centroids, scipy's one-way ANOVA, a basic CNN built from the SENet's
own weights, and sums of squares worked out by hand.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from scipy.stats import f_oneway
from sklearn.neighbors import NearestCentroid

from se_demo.analysis.excitation import (
    capture_excitations,
    capture_recalibration,
    concat_batches,
    extreme_channels,
    recording_excitations,
)
from se_demo.analysis.excitation_stats import (
    BlockStatistics,
    block_statistics,
    channel_specificity,
    class_means,
    class_specificity,
    class_spread,
)
from se_demo.analysis.excitation_text import (
    describe_depth,
    describe_interventions,
    intervention_rows,
)
from se_demo.analysis.interventions import Intervention, intervened_accuracy, intervened_model
from se_demo.analysis.results import load_evaluation
from se_demo.core import hooks
from se_demo.core.checkpoints import Checkpoint, load_checkpoint
from se_demo.core.data import normalize
from se_demo.core.inference import predict
from se_demo.core.models import build_model
from se_demo.core.registry import DatasetName
from tests.conftest import MNIST_CHECKPOINTS

BLOCKS = ["stages.0.se", "stages.1.se", "stages.2.se"]


@pytest.fixture(scope="module")
def senet() -> Checkpoint:
    return load_checkpoint(MNIST_CHECKPOINTS, "senet")


@pytest.fixture(scope="module")
def saved():
    return load_evaluation(MNIST_CHECKPOINTS)


@pytest.fixture(scope="module")
def images(test_split) -> torch.Tensor:
    return test_split.images[:500]


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def recorded(monkeypatch) -> list[int]:
    """Counts every call of the capture hooks registered from now on (one entry each)."""
    calls: list[int] = []
    original = hooks._record

    def counting(*args):
        calls.append(1)
        original(*args)

    monkeypatch.setattr(hooks, "_record", counting)
    return calls


def _assert_no_hooks_left(model: torch.nn.Module, images: torch.Tensor, recorded) -> None:
    """A forward pass after the capture calls none of the capture's hooks."""
    count = len(recorded)
    predict(model, images[:2], dataset=DatasetName.MNIST)
    assert len(recorded) == count


def _reference_forward(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The SE excitations computed by hand, stage by stage, without hooks."""
    x = normalize(images, DatasetName.MNIST)
    excitations = {}
    with torch.no_grad():
        for index, stage in enumerate(model.stages):
            h = stage.relu2(stage.conv2(stage.relu1(stage.conv1(x))))
            se = stage.se
            e = torch.sigmoid(se.fc2(torch.relu(se.fc1(h.mean(dim=(2, 3))))))
            excitations[f"stages.{index}.se"] = e
            x = stage.pool(h * e[:, :, None, None])
    return excitations


# --- Capture ---------------------------------------------------------------------------


def test_captured_excitations_are_n_by_c_in_the_open_unit_interval(senet, images, recorded):
    before = _snapshot(senet.model)
    captured = capture_excitations(senet.model, images, dataset=senet.dataset.key)
    assert list(captured) == BLOCKS
    reference = _reference_forward(senet.model, images)
    for block, channels in zip(BLOCKS, (16, 32, 64), strict=True):
        values = captured[block]
        assert values.shape == (len(images), channels)
        assert bool(((values > 0) & (values < 1)).all())
        torch.testing.assert_close(values, reference[block], atol=1e-5, rtol=1e-4)
    _assert_no_hooks_left(senet.model, images, recorded)
    assert all(torch.equal(before[k], v) for k, v in senet.model.state_dict().items())


def test_recalibration_is_the_block_input_times_its_excitation(senet, images, recorded):
    image = images[3]
    most, least = extreme_channels(
        capture_excitations(senet.model, image[None], dataset=senet.dataset.key)["stages.1.se"][0],
        3,
    )
    maps = capture_recalibration(
        senet.model, image, "stages.1.se", most + least, dataset=senet.dataset.key
    )
    assert maps.channels == tuple(most + least)
    assert maps.before.shape == (6, 14, 14)
    np.testing.assert_array_equal(maps.after, maps.before * maps.excitation[:, None, None])
    assert np.all(np.diff(maps.excitation[:3]) <= 0)
    assert maps.excitation[:3].min() >= maps.excitation[3:].max()
    # The block's input, computed by hand: stage 2's second conv after ReLU.
    with torch.no_grad():
        stage0, stage1 = senet.model.stages[0], senet.model.stages[1]
        x = stage0(normalize(image[None], DatasetName.MNIST))
        h = stage1.relu2(stage1.conv2(stage1.relu1(stage1.conv1(x))))
    np.testing.assert_allclose(maps.before, h[0, list(maps.channels)].numpy(), atol=1e-5)
    _assert_no_hooks_left(senet.model, images, recorded)
    switched_off = intervened_model(
        senet.model, [Intervention("stages.1.se", "off")], config=senet.config
    )
    off = capture_recalibration(
        switched_off, image, "stages.1.se", [0, 1], dataset=DatasetName.MNIST
    )
    np.testing.assert_array_equal(off.after, off.before)
    np.testing.assert_array_equal(off.excitation, [1.0, 1.0])


def test_extreme_channels():
    most, least = extreme_channels(np.array([0.5, 0.9, 0.1, 0.7, 0.3]), 2)
    assert (most, least) == ([1, 3], [2, 4])
    assert extreme_channels(np.array([0.2, 0.8]), 5) == ([1, 0], [0, 1])


# --- Class statistics ------------------------------------------------------------------


def test_class_means_equal_scikit_learns_centroids():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=200)
    values = rng.random((200, 5)) + labels[:, None] * 0.1
    np.testing.assert_allclose(
        class_means(values, labels, num_classes=4),
        NearestCentroid().fit(values, labels).centroids_,
    )
    with pytest.raises(ValueError, match=r"class\(es\) \[2\]"):
        class_means(values[labels != 2], labels[labels != 2], num_classes=4)


def test_specificity_is_one_when_only_the_class_matters_and_zero_when_it_does_not():
    labels = np.repeat(np.arange(3), 4)
    by_class = np.array([[0.1, 0.9], [0.5, 0.4], [0.8, 0.2]])[labels]  # a function of the class
    assert class_specificity(by_class, labels, num_classes=3) == pytest.approx(1.0, abs=1e-12)
    within = np.array([[0.1, 0.3], [0.4, 0.2], [0.7, 0.9], [0.9, 0.6]])
    same_for_all = np.vstack([within] * 3)  # every class holds the same four values
    assert class_specificity(same_for_all, labels, num_classes=3) == pytest.approx(0.0, abs=1e-12)
    constant = np.full((12, 2), 0.5)
    assert class_specificity(constant, labels, num_classes=3) == 0.0


def test_specificity_by_hand_and_pooled_over_channels_by_variance():
    labels = np.array([0, 0, 1, 1])
    # Channel 0: class means 1 and 3 around 2; SS_total = 1+1+1+1... worked out:
    # values 0, 2 | 2, 4 -> mean 2; SS_total = 4+0+0+4 = 8; SS_between = 2*1 + 2*1 = 4.
    # Channel 1: values 1, 3 | 3, 1 -> class means equal: SS_between = 0, SS_total = 4.
    values = np.array([[0.0, 1.0], [2.0, 3.0], [2.0, 3.0], [4.0, 1.0]])
    np.testing.assert_allclose(channel_specificity(values, labels, num_classes=2), [0.5, 0.0])
    assert class_specificity(values, labels, num_classes=2) == pytest.approx(4 / 12)


def test_channel_specificity_agrees_with_scipys_anova():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, size=600)
    values = rng.normal(size=(600, 3)) + np.outer(labels, [0.0, 0.1, 0.5])
    eta = channel_specificity(values, labels)
    for c in range(3):
        groups = [values[labels == k, c] for k in range(10)]
        f = f_oneway(*groups).statistic
        between, within = 10 - 1, len(labels) - 10
        assert eta[c] == pytest.approx(f * between / (f * between + within))
    assert eta[0] < eta[1] < eta[2]


def test_class_spread_and_block_statistics_by_hand():
    labels = np.array([0, 0, 1, 1])
    values = np.array([[0.2], [0.4], [0.6], [0.8]])
    spread = class_spread(values, labels, 1)
    assert spread.count == 2
    np.testing.assert_allclose(spread.mean, [0.7])
    np.testing.assert_allclose(spread.std, [0.1])
    np.testing.assert_allclose([spread.low[0], spread.high[0]], [0.62, 0.78])
    (stats,) = block_statistics({"stages.0.se": values}, labels, num_classes=2)
    # Overall mean 0.5, class means 0.3 and 0.7: SS_between = 4 * 0.04, SS_within = 4 * 0.01.
    assert stats.between_std == pytest.approx(0.2)
    assert stats.within_std == pytest.approx(0.1)
    assert stats.specificity == pytest.approx(0.16 / 0.20)
    assert stats.saturated == 0.0
    assert stats.channels == 1


def _stats(specificity: float, between: float, saturated: float, index: int) -> BlockStatistics:
    return BlockStatistics(
        f"stages.{index}.se", 16, specificity, between, 0.02, 0.5, saturated, 0.0, 0, 0
    )


def test_the_depth_reading_follows_the_numbers():
    rising = [_stats(0.05, 0.01, 0.0, 0), _stats(0.4, 0.05, 0.1, 1), _stats(0.8, 0.1, 0.7, 2)]
    text = describe_depth(rising)
    assert "5 % in block 1, 40 % in block 2 and 80 % in block 3" in text
    assert "grows with depth, as in the SE paper" in text
    assert "In block 1 these differences are less than half as large as in block 3" in text
    assert "the last block saturates: 70 %" in text
    # Fashion's last block: a share too small for whole percents is not written as "0%".
    tiny = [_stats(0.5, 0.01, 0.0, 0), _stats(0.6, 0.04, 0.0019, 1)]
    assert "ours does not: 0.19 % of the last block's excitations are above 0.9" in (
        describe_depth(tiny)
    )
    falling = [_stats(0.8, 0.1, 0.0, 0), _stats(0.3, 0.1, 0.0, 1)]
    text = describe_depth(falling)
    assert "Unlike in the SE paper" in text
    assert "ours does not" in text


def test_intervention_rows_and_reading_from_a_record():
    summary = {
        "metrics": {"accuracy": 0.99},
        "se_interventions": {
            "off": {"stages.0.se": 0.98, "stages.1.se": 0.95, "all": 0.9},
            "mean": {"stages.0.se": 0.99, "stages.1.se": 0.985, "all": 0.98},
        },
    }
    rows = intervention_rows(summary)
    assert [r["SE block"] for r in rows] == ["block 1", "block 2", "all blocks"]
    assert rows[1]["change, SE off (pp)"] == pytest.approx(-4.0)
    assert rows[2]["accuracy, mean excitation (%)"] == pytest.approx(98.0)
    text = describe_interventions(summary)
    assert "-1.00 pp in block 1 and -4.00 pp in block 2; all blocks off: -9.00 pp" in text
    assert "here removing the last block costs the most" in text
    assert intervention_rows({"metrics": {"accuracy": 0.9}}) == []


# --- Interventions ---------------------------------------------------------------------


def test_switching_every_block_off_is_the_cnn_without_the_se_multiplication(senet, images):
    # The same network with the SE layers removed, built independently: a basic CNN
    # holding the SENet's convolution and classifier weights.
    cnn = build_model("cnn")
    cnn.load_state_dict({k: v for k, v in senet.model.state_dict().items() if ".se." not in k})
    switched_off = intervened_model(
        senet.model, [Intervention(b, "off") for b in BLOCKS], config=senet.config
    )
    expected = predict(cnn, images, dataset=DatasetName.MNIST)
    assert torch.equal(predict(switched_off, images, dataset=DatasetName.MNIST), expected)
    assert not torch.allclose(senet.predict(images), expected, atol=1e-3)


def test_an_intervention_leaves_the_given_model_unchanged(senet, images, recorded):
    before = _snapshot(senet.model)
    reference = senet.predict(images)
    copy = intervened_model(
        senet.model,
        [Intervention("stages.2.se", "scale", channel=5, scale=0.0)],
        config=senet.config,
    )
    assert copy is not senet.model
    predict(copy, images, dataset=DatasetName.MNIST)
    _assert_no_hooks_left(senet.model, images, recorded)
    assert all(torch.equal(before[k], v) for k, v in senet.model.state_dict().items())
    assert torch.equal(senet.predict(images), reference)


def test_mean_and_scale_interventions_change_only_their_block(senet, images):
    original = capture_excitations(senet.model, images, dataset=senet.dataset.key)
    mean = original["stages.1.se"].mean(0)
    replaced = capture_excitations(
        intervened_model(
            senet.model,
            [Intervention("stages.1.se", "mean")],
            {"stages.1.se": mean},
            config=senet.config,
        ),
        images,
        dataset=DatasetName.MNIST,
    )
    torch.testing.assert_close(replaced["stages.0.se"], original["stages.0.se"], rtol=0, atol=0)
    assert torch.equal(replaced["stages.1.se"], mean.expand(len(images), -1))
    assert not torch.allclose(replaced["stages.2.se"], original["stages.2.se"], atol=1e-4)

    scaled = capture_excitations(
        intervened_model(
            senet.model,
            [Intervention("stages.2.se", "scale", channel=7, scale=2.5)],
            config=senet.config,
        ),
        images,
        dataset=DatasetName.MNIST,
    )
    expected = original["stages.2.se"].clone()
    expected[:, 7] *= 2.5
    assert torch.equal(scaled["stages.2.se"], expected)
    assert torch.equal(scaled["stages.1.se"], original["stages.1.se"])


def test_invalid_interventions_are_refused(senet):
    with pytest.raises(ValueError, match="unknown intervention 'zero'"):
        Intervention("stages.0.se", "zero")
    with pytest.raises(ValueError, match="needs a channel"):
        Intervention("stages.0.se", "scale")
    with pytest.raises(ValueError, match=r"no SE block 'stages\.3\.se'"):
        intervened_model(senet.model, [Intervention("stages.3.se", "off")], config=senet.config)
    with pytest.raises(ValueError, match="channel 16 out of range"):
        intervened_model(
            senet.model,
            [Intervention("stages.0.se", "scale", channel=16, scale=0)],
            config=senet.config,
        )
    with pytest.raises(ValueError, match="no mean excitation"):
        intervened_model(senet.model, [Intervention("stages.0.se", "mean")], config=senet.config)
    with pytest.raises(ValueError, match="shape"):
        intervened_model(
            senet.model,
            [Intervention("stages.0.se", "mean")],
            {"stages.0.se": [0.5] * 3},
            config=senet.config,
        )


def test_interventions_in_one_thread_leave_another_threads_predictions_unchanged(
    senet, images, recorded
):
    baseline_probs = senet.predict(images)
    baseline_excitations = capture_excitations(senet.model, images, dataset=senet.dataset.key)
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []
    results: dict[str, list] = {"plain": [], "intervened": []}

    def plain() -> None:
        barrier.wait()
        for _ in range(6):
            with recording_excitations(senet.model) as store:
                probs = senet.predict(images, batch_size=100)
            results["plain"].append((probs, concat_batches(store)))

    def intervening() -> None:
        barrier.wait()
        for block in [*BLOCKS, *BLOCKS]:
            copy = intervened_model(senet.model, [Intervention(block, "off")], config=senet.config)
            results["intervened"].append(
                predict(copy, images, batch_size=100, dataset=DatasetName.MNIST)
            )
            capture_recalibration(copy, images[0], block, [0], dataset=DatasetName.MNIST)

    def guarded(target):
        def run() -> None:
            try:
                target()
            except BaseException as error:  # reported below
                failures.append(error)

        return run

    threads = [threading.Thread(target=guarded(f)) for f in (plain, intervening)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    assert len(results["plain"]) == 6
    for probs, excitations in results["plain"]:
        assert torch.equal(probs, baseline_probs)
        assert all(torch.equal(excitations[b], baseline_excitations[b]) for b in BLOCKS)
    assert not any(torch.equal(p, baseline_probs) for p in results["intervened"])
    _assert_no_hooks_left(senet.model, images, recorded)


@pytest.mark.slow
def test_saved_switch_off_accuracies_equal_a_fresh_run(senet, saved, test_split):
    summary = saved.record["models"]["senet"]
    interventions = summary["se_interventions"]
    assert set(interventions["off"]) == {*BLOCKS, "all"}
    means = summary["mean_excitation"]
    for mode in ("off", "mean"):
        fresh = intervened_accuracy(
            senet.model,
            [Intervention("stages.2.se", mode)],
            test_split.images,
            test_split.labels,
            means,
            dataset=senet.dataset.key,
            config=senet.config,
        )
        assert fresh == pytest.approx(interventions[mode]["stages.2.se"], abs=1.5e-4)
