"""Interventions, measured channel effects and their wording, on the shipped SENets.

References are independent of the code under test: a basic CNN holding the SENet's
weights, scipy's Wilson interval, the intervened copy itself for the stage-by-stage
channel effects, and the numbers of one real test image for the sentences.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm

from se_demo.analysis.channel_effects import (
    load_channel_effects,
    measure_channel_effects,
    save_channel_effects,
)
from se_demo.analysis.excitation import capture_excitations
from se_demo.analysis.excitation_text import (
    explain_switch_off,
    format_probability,
    network_label,
)
from se_demo.analysis.interventions import (
    Intervention,
    OverriddenGate,
    SubsetAccuracy,
    intervened_accuracy,
    intervened_model,
    stratified_subset,
    subset_accuracy,
)
from se_demo.analysis.results import wilson_interval
from se_demo.core.checkpoints import Checkpoint, CheckpointError, load_checkpoint
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.data import Split
from se_demo.core.inference import predict_logits
from se_demo.core.models import se_blocks
from se_demo.core.registry import DatasetName
from tests.conftest import MNIST_CHECKPOINTS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def senet() -> Checkpoint:
    return load_checkpoint(MNIST_CHECKPOINTS, "senet")


def test_an_intervened_copy_is_built_fresh_and_its_gate_swapped(senet, test_split):
    state = torch.random.get_rng_state()
    copy = intervened_model(senet.model, [Intervention("stages.2.se", "off")], config=senet.config)
    assert torch.equal(torch.random.get_rng_state(), state)  # nothing initialised or drawn
    gates = {name: block.gate for name, block in se_blocks(copy).items()}
    assert isinstance(gates["stages.2.se"], OverriddenGate)
    assert not any(isinstance(g, OverriddenGate) for n, g in gates.items() if n != "stages.2.se")
    assert all(isinstance(b.gate, torch.nn.Sigmoid) for b in se_blocks(senet.model).values())
    # Its own tensors: changing the copy's weights leaves the shared model alone.
    before = predict_logits(senet.model, test_split.images[:20], dataset=senet.dataset.key)
    with torch.no_grad():
        for parameter in copy.parameters():
            parameter.zero_()
    assert torch.equal(
        predict_logits(senet.model, test_split.images[:20], dataset=senet.dataset.key), before
    )


def test_a_copy_of_a_channels_last_model_has_weights_in_the_default_layout(senet, test_split):
    # A trained model's weights are channels-last; the copy's are laid out as a model
    # built from scratch has them, so an intervention's numbers never depend on it.
    config = senet.config
    trained = intervened_model(senet.model, [], config=config)
    trained = trained.to(memory_format=torch.channels_last)
    assert not trained.stages[0].conv2.weight.is_contiguous()
    copy = intervened_model(trained, [], config=config)
    assert all(parameter.is_contiguous() for parameter in copy.parameters())
    images = test_split.images[:50]
    assert torch.equal(
        predict_logits(copy, images, dataset=DatasetName.MNIST),
        predict_logits(senet.model, images, dataset=DatasetName.MNIST),
    )


def test_no_code_reads_torchs_private_hook_dictionaries():
    private = ("_forward" + "_hooks", "_forward" + "_pre_hooks", "_backward" + "_hooks")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("se_demo", "app_pages", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if any(name in path.read_text() for name in private)
    ]
    assert offenders == []


def test_the_stratified_subset_is_fixed_and_keeps_the_class_shares(test_split):
    labels = test_split.labels.numpy()
    subset = stratified_subset(labels, 1000)
    assert len(subset) == 1000 == len(set(subset.tolist()))
    assert np.all(np.diff(subset) > 0)
    np.testing.assert_array_equal(subset, stratified_subset(labels, 1000))
    shares = np.bincount(labels[subset], minlength=10) / 1000
    np.testing.assert_allclose(shares, np.bincount(labels, minlength=10) / len(labels), atol=1e-3)
    with pytest.raises(ValueError, match="subset size"):
        stratified_subset(labels, 0)


@pytest.mark.parametrize(("correct", "total"), [(995, 1000), (0, 50), (50, 50), (321, 400)])
def test_wilson_interval_is_the_score_interval(correct, total):
    z, p = norm.ppf(0.975), correct / total  # Wilson (1927), written out by hand
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    low, high = wilson_interval(correct, total)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert high == pytest.approx(min(1.0, centre + half), abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no trials: nothing known


def test_subset_accuracy_is_the_intervened_accuracy_on_those_images(senet, test_split):
    change = [Intervention("stages.1.se", "scale", channel=4, scale=0.3)]
    indices = stratified_subset(test_split.labels.numpy(), 300)
    result = subset_accuracy(
        senet.model,
        change,
        test_split.images,
        test_split.labels,
        indices,
        dataset=senet.dataset.key,
        config=senet.config,
    )
    picked = torch.as_tensor(indices)
    expected = intervened_accuracy(
        senet.model,
        change,
        test_split.images[picked],
        test_split.labels[picked],
        dataset=senet.dataset.key,
        config=senet.config,
    )
    assert result.total == 300
    assert result.accuracy == expected
    assert (result.low, result.high) == wilson_interval(result.correct, 300)


@pytest.mark.slow
def test_channel_effects_equal_removing_the_channel_through_an_intervention(senet, test_split):
    few = Split(test_split.images[:200], test_split.labels[:200])
    trained, effects = measure_channel_effects(senet, few, batch_size=64)  # 4 batches
    assert (
        trained
        == intervened_accuracy(
            senet.model, [], few.images, few.labels, dataset=senet.dataset.key, config=senet.config
        )
        * 200
    )
    assert {b: len(c) for b, c in effects.items()} == {
        "stages.0.se": 16,
        "stages.1.se": 32,
        "stages.2.se": 64,
    }
    for block, channel in [("stages.0.se", c) for c in range(16)] + [
        ("stages.1.se", 4),
        ("stages.2.se", 63),
    ]:
        change = [Intervention(block, "scale", channel=channel, scale=0.0)]
        expected = intervened_accuracy(
            senet.model,
            change,
            few.images,
            few.labels,
            dataset=senet.dataset.key,
            config=senet.config,
        )
        assert effects[block][channel] == round(expected * 200)


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_the_shipped_channel_effects_belong_to_the_shipped_senet(dataset, tmp_path):
    directory = CHECKPOINT_DIR / dataset
    record = load_checkpoint(directory, "senet").record
    effects = load_channel_effects(directory, record)
    assert effects is not None
    for ranked in effects.values():
        sizes = [abs(e.change) for e in ranked]
        assert sizes == sorted(sizes, reverse=True)
    # Other weights: not shown as if they were these.
    assert load_channel_effects(directory, {**record, "weights_sha256": "0" * 64}) is None
    # Deterministic bytes: saving the same record again writes the same file.
    saved = directory / "channel_effects.json"
    path = save_channel_effects(json.loads(saved.read_text()), tmp_path)
    assert path.read_bytes() == saved.read_bytes()


@pytest.mark.slow
def test_the_saved_largest_effect_equals_a_fresh_run_on_the_test_set(senet, test_split):
    effects = load_channel_effects(MNIST_CHECKPOINTS)
    assert effects is not None
    top = effects["stages.0.se"][0]
    change = [Intervention("stages.0.se", "scale", channel=top.channel, scale=0.0)]
    fresh = intervened_accuracy(
        senet.model,
        change,
        test_split.images,
        test_split.labels,
        dataset=senet.dataset.key,
        config=senet.config,
    )
    assert fresh == top.accuracy


def test_probabilities_in_words():
    assert [format_probability(p) for p in (0.952, 0.99996, 1.0, 0.0004, 0.0, 0.001)] == [
        "95.2 %",
        "> 99.9 %",
        "> 99.9 %",
        "< 0.1 %",
        "< 0.1 %",
        "0.1 %",
    ]


def test_switched_off_networks_are_not_called_the_basic_cnn():
    one = network_label(["stages.2.se"], "off", short=False)
    assert one.startswith("SENet with block 3's SE removed")
    assert "not the Basic CNN, which was trained without SE" in one
    assert network_label(["stages.0.se", "stages.1.se"], "off") == (
        "SENet with all its SE blocks removed"
    )
    assert network_label(["stages.1.se"], "scale", 7, 0.5) == (
        "SENet with channel 7 of block 2 scaled by 0.5"
    )
    assert network_label(["stages.1.se"], "scale", 7, 0.0) == (
        "SENet with channel 7 of block 2 removed (excitation 0)"
    )


def test_a_confidence_rise_is_explained_from_the_inputs_own_gates(senet, test_split):
    image = test_split.images[:1]
    gates = capture_excitations(senet.model, image, dataset=senet.dataset.key)["stages.2.se"][
        0
    ].numpy()
    before = predict_logits(senet.model, image, dataset=senet.dataset.key)[0].numpy()
    off = intervened_model(senet.model, [Intervention("stages.2.se", "off")], config=senet.config)
    after = predict_logits(off, image, dataset=DatasetName.MNIST)[0].numpy()
    text = explain_switch_off(["stages.2.se"], gates, before, after, list("0123456789"))
    probabilities = [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (before, after)]
    assert probabilities[1][7] > probabilities[0][7]  # test image 0, a 7: the case
    assert f"64 excitations in block 3 were all below 1 (from {gates.min():.2f}" in text
    assert f"to {gates.max():.2f}, median {np.median(gates):.2f})" in text
    assert f"median factor of {np.median(1 / gates):.1f}" in text
    gap = [x[7] - np.delete(x, 7).max() for x in (before, after)]
    assert f"grows from {gap[0]:.1f} to {gap[1]:.1f}" in text
    assert (
        f"{format_probability(probabilities[0][7])} -> {format_probability(probabilities[1][7])}"
    ) in text
    assert "not a more accurate one" in text


def test_a_damaged_channel_effects_file_is_refused_with_its_name(tmp_path):
    assert load_channel_effects(tmp_path) is None  # nothing saved: nothing suggested
    saved = json.loads((MNIST_CHECKPOINTS / "channel_effects.json").read_text())
    del saved["removed_correct"]
    save_channel_effects(saved, tmp_path)
    with pytest.raises(CheckpointError, match=r"channel_effects\.json' is not a valid"):
        load_channel_effects(tmp_path)
    (tmp_path / "channel_effects.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_channel_effects(tmp_path)


def test_an_interval_contains_what_it_cannot_tell_apart():
    low, high = wilson_interval(985, 1000)  # 98.5 % on the subset: 97.5 % to 99.1 %
    result = SubsetAccuracy(985, 1000, low, high)
    assert result.contains(0.990)  # no measurable change from a trained 99.0 %
    assert result.contains(low)
    assert result.contains(high)
    assert not result.contains(0.9961)  # a real loss from the shipped SENet's 99.61 %
    assert not result.contains(0.9700)
