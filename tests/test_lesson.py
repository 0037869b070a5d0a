"""The lesson's numbers against independent recomputations: the SE steps from the block's
weights with plain torch.nn.functional, the layer table from hand-counted parameters."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from se_demo.analysis.lesson import PAPER_HEADLINE, explain_se_block, layer_table, why_cut
from se_demo.analysis.results import load_evaluation
from se_demo.core.checkpoints import load_checkpoint
from se_demo.core.config import ModelConfig
from se_demo.core.datafiles import read_split
from se_demo.core.inference import count_flops
from se_demo.core.models import build_from_config, build_model
from se_demo.core.registry import ModelKind, dataset_info
from se_demo.figures.lesson import architecture_dot, channel_montage, se_placements_dot
from se_demo.training.experiments import PAPER_IMAGENET
from tests.conftest import MNIST_CHECKPOINTS

BLOCKS = ("stages.0.se", "stages.1.se", "stages.2.se")


@pytest.fixture(scope="module")
def senet() -> torch.nn.Module:
    return load_checkpoint(MNIST_CHECKPOINTS, "senet").model


def _plain_forward(weights: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, dict]:
    """The SENet written out with F.conv2d, F.linear and friends: every SE step per block."""
    steps = {}
    for stage in range(3):
        w = {
            k.removeprefix(f"stages.{stage}."): v
            for k, v in weights.items()
            if k.startswith(f"stages.{stage}.")
        }
        x = F.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=1))
        u = F.relu(F.conv2d(x, w["conv2.weight"], w["conv2.bias"], padding=1))
        z = u.mean(dim=(2, 3))
        fc1 = F.linear(z, w["se.fc1.weight"], w["se.fc1.bias"])
        fc2 = F.linear(F.relu(fc1), w["se.fc2.weight"], w["se.fc2.bias"])
        s = torch.sigmoid(fc2)
        x = u * s[:, :, None, None]
        steps[f"stages.{stage}.se"] = {
            "feature_maps": u[0], "squeezed": z[0], "fc1": fc1[0], "relu": F.relu(fc1)[0],
            "fc2": fc2[0], "excitation": s[0], "scaled": x[0],
        }  # fmt: skip
        if stage < 2:
            x = F.max_pool2d(x, 2)
    return steps


@pytest.mark.parametrize("block", BLOCKS)
def test_every_step_equals_a_plain_recomputation(senet, test_split, block: str) -> None:
    image = test_split.images[0].numpy()
    info = dataset_info("mnist")
    x = (torch.from_numpy(image).float()[None, None] / 255.0 - info.mean) / info.std
    with torch.no_grad():
        expected = _plain_forward(senet.state_dict(), x)[block]
    steps = explain_se_block(senet, image, block, dataset="mnist")
    for name, value in expected.items():
        np.testing.assert_allclose(
            getattr(steps, name), value.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )
    assert steps.channels == {"stages.0.se": 16, "stages.1.se": 32, "stages.2.se": 64}[block]
    assert len(steps.fc1) == steps.channels // 2
    c = steps.channels
    assert steps.parameters == {"fc1": c * c // 2 + c // 2, "fc2": c // 2 * c + c}
    assert int(np.argmax(steps.probabilities)) == int(test_split.labels[0])


def test_a_drawing_in_floats_is_read_like_the_same_uint8_image(senet, test_split) -> None:
    image = test_split.images[3].numpy()
    as_uint8 = explain_se_block(senet, image, "stages.1.se", dataset="mnist")
    as_float = explain_se_block(
        senet, image.astype(np.float32) / 255.0, "stages.1.se", dataset="mnist"
    )
    np.testing.assert_allclose(as_float.excitation, as_uint8.excitation, atol=1e-6)


def test_unknown_block_is_refused(senet) -> None:
    with pytest.raises(ValueError, match=r"no SE block 'stages\.3\.se'"):
        explain_se_block(senet, np.zeros((28, 28), np.uint8), "stages.3.se", dataset="mnist")


def test_the_layer_tables_count_what_se_costs() -> None:
    cnn, senet = layer_table(build_model("cnn")), layer_table(build_model("senet"))
    assert sum(r.parameters for r in cnn) == 1_683_066
    # Each SE block: C*C/2 + C/2 + C/2*C + C parameters, for C = 16, 32, 64.
    se_parameters = sum(c * c // 2 + c // 2 + c // 2 * c + c for c in (16, 32, 64))
    assert se_parameters == 5_544
    assert sum(r.parameters for r in senet) - sum(r.parameters for r in cnn) == se_parameters
    # FLOPs: 2 per multiply-add of the two FC layers of each block.
    se_flops = sum(2 * 2 * c * (c // 2) for c in (16, 32, 64))
    assert sum(r.flops for r in senet) - sum(r.flops for r in cnn) == se_flops == 10_752
    assert [r.name for r in senet if r.is_se] == list(BLOCKS)
    shapes = {r.name: r.output_shape for r in senet}
    assert shapes["stages.0.se"] == (16, 28, 28)
    assert shapes["stages.1.pool"] == (32, 7, 7)
    assert shapes["classifier.1"] == (512,)
    # the first conv: 3x3x1x16 weights + 16 biases, 2 FLOPs per multiply-add per pixel
    first = senet[0]
    assert (first.parameters, first.flops) == (160, 2 * 9 * 16 * 28 * 28)


def test_the_layer_table_needs_no_weights_and_adds_up_to_the_saved_flops(senet) -> None:
    state = torch.random.get_rng_state()
    empty = build_from_config(ModelConfig(name=ModelKind.SENET), device="meta")
    assert torch.equal(torch.random.get_rng_state(), state)  # nothing initialised or drawn
    table = layer_table(empty)
    assert table == layer_table(senet)
    saved = load_evaluation(MNIST_CHECKPOINTS).record["models"][ModelKind.SENET]["flops"]
    assert sum(row.flops for row in table) == count_flops(senet)[""] == saved


def test_the_flop_count_is_the_same_while_another_thread_runs_the_network() -> None:
    # torch's FlopCounterMode tells modules apart through global module hooks, which every
    # thread's forward passes fire: read alone, its figures per module took in the other
    # thread's modules (7 of 20 counts wrong here before).
    model = build_from_config(ModelConfig(name=ModelKind.SENET), device="meta")
    alone = count_flops(model)
    other = build_from_config(ModelConfig(name=ModelKind.SENET), device="meta").eval()
    done = threading.Event()

    def forward_passes() -> None:
        with torch.no_grad():
            while not done.is_set():
                other(torch.zeros(8, 1, 28, 28, device="meta"))

    thread = threading.Thread(target=forward_passes)
    thread.start()
    try:
        counts = [count_flops(model) for _ in range(20)]
    finally:
        done.set()
        thread.join(timeout=60)
    assert all(count == alone for count in counts)
    assert (
        alone["stages.0.se"]
        == alone["stages.0.se.fc1"] + alone["stages.0.se.fc2"]
        == 2 * 2 * 16 * 8
    )


def test_the_diagram_marks_the_se_blocks_and_lines_up_the_basic_cnn() -> None:
    dot = architecture_dot(
        {"Basic CNN": layer_table(build_model("cnn")), "SENet": layer_table(build_model("senet"))}
    )
    assert dot.count("SE block: ") == 3
    assert dot.count("no SE block here") == 3
    assert dot.count("conv 3x3") == 12
    assert "1,683,066 parameters" in dot
    assert "1,688,610 parameters" in dot


def test_the_large_diagram_has_one_line_per_layer_in_projector_type() -> None:
    dot = architecture_dot({"SENet": layer_table(build_model("senet"))}, large=True)
    assert "fontsize=18" in dot
    assert 'label="SE block: 16 -> 8 -> 16 · out 16x28x28"' in dot
    assert "params," not in dot  # the per-layer costs stay in the page's table


def test_the_default_view_shows_a_bright_channel_cut_and_says_why(senet, data_dir) -> None:
    images, labels = read_split(False, data_dir, dataset="mnist")
    steps = explain_se_block(senet, images[0], "stages.2.se", dataset="mnist")
    brightest = int(np.argmax(steps.squeezed))
    # block 3 on test image 0 (a 7): its brightest map is among the three cut most, to ~0.02
    assert brightest in np.argsort(steps.excitation)[:3]
    assert steps.excitation[brightest] < 0.03
    evaluation = load_evaluation(MNIST_CHECKPOINTS)
    block = evaluation.excitations["senet"]["stages.2.se"]
    means = np.stack([block[evaluation.labels == k].mean(0) for k in range(10)])  # by hand
    text = why_cut(steps, means, dataset_info("mnist").class_names)
    assert text.startswith(f"Channel {brightest} is the brightest of the 64 maps here")
    assert f"s = {steps.excitation[brightest]:.2f}" in text
    column = means[:, brightest]
    assert f"between {column.min():.2f} (for a {int(column.argmin())})" in text
    assert f"{column[labels[0]]:.2f} for a {labels[0]}" in text
    assert "FC1 mixes all 64 squeezed values" in text


def test_a_class_specific_channel_is_described_as_such(senet, data_dir) -> None:
    images, _ = read_split(False, data_dir, dataset="mnist")
    steps = explain_se_block(senet, images[0], "stages.2.se", dataset="mnist")
    means = np.full((10, 64), 0.1)
    means[3] = 0.9  # every channel kept for 3s only
    text = why_cut(steps, means, dataset_info("mnist").class_names)
    assert "runs from 0.10 (for a 0) to 0.90 (for a 3)" in text
    assert "keeps it for some classes and cuts it for others" in text


def test_the_lesson_quotes_the_ablation_tables_as_the_seeds_page_does() -> None:
    assert (
        PAPER_HEADLINE["ablation_top1_error"]
        == PAPER_IMAGENET[("baseline", "no SE (basic CNN)")]["top1_err"]
    )
    assert (
        PAPER_HEADLINE["ablation_se_top1_error"]
        == PAPER_IMAGENET[("reduction ratio", "r = 16")]["top1_err"]
    )


def test_se_resnet_scales_the_residual_branch_before_the_addition() -> None:
    dot = se_placements_dot()
    assert "r_branch -> r_squeeze -> r_fc -> r_scale;" in dot
    assert "r_scale -> r_add -> r_out;" in dot  # SE before the shortcut is added
    assert 'r_in -> r_add [label=" identity shortcut"' in dot
    assert "p_scale -> p_pool;" in dot  # ours: SE before the pooling, no shortcut
    assert "p_in -> p_add" not in dot


def test_every_feature_map_carries_its_channel_number() -> None:
    fig = channel_montage(np.random.default_rng(0).random((16, 28, 28)), zmax=1.0)
    assert [a.text for a in fig.layout.annotations] == [str(c) for c in range(16)]
