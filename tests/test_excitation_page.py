"""The SE excitation page in AppTest, on the shipped checkpoints and the real MNIST test set.

Figures are read back from the page (plotly's JSON) and compared with numbers computed
here from the saved excitations or fresh forward passes, not with the page's own helpers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from se_demo.analysis.channel_effects import load_channel_effects, saved_accuracy
from se_demo.analysis.excitation import capture_excitations
from se_demo.analysis.excitation_text import format_probability, intervention_rows
from se_demo.analysis.interventions import (
    Intervention,
    intervened_accuracy,
    stratified_subset,
    subset_accuracy,
)
from se_demo.analysis.results import load_evaluation
from se_demo.core.checkpoints import Checkpoint, load_checkpoint
from se_demo.core.inference import predict
from se_demo.core.models import build_model
from se_demo.core.registry import DatasetName, dataset_info
from tests.conftest import MNIST_CHECKPOINTS, plotly_charts, plotly_values

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "excitation.py")
TIMEOUT = 180


@pytest.fixture(scope="module")
def saved():
    return load_evaluation(MNIST_CHECKPOINTS)


@pytest.fixture(scope="module")
def senet() -> Checkpoint:
    return load_checkpoint(MNIST_CHECKPOINTS, "senet")


@pytest.fixture(scope="module")
def cnn_from_senet(senet) -> torch.nn.Module:
    """The SENet without its SE layers: a basic CNN holding the SENet's other weights."""
    cnn = build_model("cnn")
    cnn.load_state_dict({k: v for k, v in senet.model.state_dict().items() if ".se." not in k})
    return cnn.eval()


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _answer(probabilities: torch.Tensor) -> str:
    digit = int(probabilities.argmax())
    return f"**{digit}** (probability {format_probability(float(probabilities[digit]))})"


def _a(digit: int) -> str:
    return f"{'an' if digit == 8 else 'a'} {digit}"


def _intervention_lines(at: AppTest) -> list[str]:
    """The intervention tab's input, as-trained and intervened answers, one line each."""
    text = next(t for t in _texts(at) if "SENet as trained:" in t)
    return [line.strip() for line in text.split("\n")]


def test_the_page_shows_every_view_without_exception(senet, test_split, saved):
    at = _page()
    assert at.title[0].value == "What SE learned"
    assert {
        "exc_depth",
        "exc_heatmap",
        "exc_spread",
        "exc_bars",
        "exc_maps_most",
        "exc_maps_least",
        "exc_int_probabilities",
    } <= set(plotly_charts(at))
    # Test image 0 by default: the page's answer is a fresh forward pass's.
    fresh = senet.predict(test_split.images[:1])[0]
    label = int(test_split.labels[0])
    assert f"SENet predicts {_answer(fresh)}; it is test image 0, a {label}" in _texts(at)
    # The depth chart shows one class-specificity per block, each a share in [0, 1].
    depth = plotly_charts(at)["exc_depth"]["data"][0]
    assert len(depth["x"]) == 3
    assert all(0 <= v <= 1 for v in plotly_values(depth["y"]))
    # The saved per-block table, one row per block and one for all blocks.
    table = at.dataframe[0].value
    assert list(table["SE block"]) == ["block 1", "block 2", "block 3", "all blocks"]
    expected = intervention_rows(saved.record["models"]["senet"])
    np.testing.assert_allclose(
        table["accuracy, SE off (%)"], [r["accuracy, SE off (%)"] for r in expected]
    )


def test_the_page_runs_inside_the_app_frame():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    at.switch_page("app_pages/excitation.py").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["What SE learned"]
    assert "exc_heatmap" in plotly_charts(at)


def test_a_folder_without_an_evaluation_is_reported_not_raised(tmp_path):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["model_dir"] = str(tmp_path)
    at.run()
    assert not at.exception, at.exception
    assert "No SENet with a saved evaluation" in at.error[0].value
    assert not plotly_charts(at)


def test_choosing_a_block_and_a_class_updates_the_figures(saved, senet, test_split):
    labels = saved.labels
    at = _page()
    heat = plotly_charts(at)["exc_heatmap"]["data"][0]
    assert plotly_values(heat["z"]).shape == (11, 16)

    at.selectbox(key="exc_block").select("stages.2.se").run()
    values = saved.excitations["senet"]["stages.2.se"].astype(np.float64)
    heat = plotly_charts(at)["exc_heatmap"]
    assert heat["layout"]["title"]["text"].startswith("SE block 3 (64 channels)")
    z = plotly_values(heat["data"][0]["z"])
    assert z.shape == (11, 64)
    for k in range(10):
        np.testing.assert_allclose(z[k], values[labels == k].mean(0), atol=1e-6)
    # The all-class row is the evaluation's mean of the unrounded (float32) excitations,
    # the saved ones are float16: they agree to float16's rounding.
    np.testing.assert_allclose(z[10], values.mean(0), atol=1e-5)

    spread = plotly_charts(at)["exc_spread"]
    np.testing.assert_allclose(
        plotly_values(spread["data"][1]["y"]), values[labels == 0].mean(0), 1e-6
    )
    at.selectbox(key="exc_class_mnist").select(3).run()
    spread = plotly_charts(at)["exc_spread"]
    assert "class 3" in spread["layout"]["title"]["text"]
    np.testing.assert_allclose(
        plotly_values(spread["data"][1]["y"]), values[labels == 3].mean(0), 1e-6
    )
    band = plotly_values(spread["data"][0]["y"])
    np.testing.assert_allclose(band[:64], np.percentile(values[labels == 3], 90, axis=0), 1e-6)

    at.toggle(key="exc_relative").set_value(True).run()
    z = plotly_values(plotly_charts(at)["exc_heatmap"]["data"][0]["z"])
    assert z.shape == (10, 64)
    np.testing.assert_allclose(z[3], values[labels == 3].mean(0) - values.mean(0), atol=1e-5)

    # The feature maps follow the block: the most excited channels of test image 0 there.
    excitation = capture_excitations(senet.model, test_split.images[:1], dataset=senet.dataset.key)[
        "stages.2.se"
    ][0].numpy()
    titles = [a["text"] for a in plotly_charts(at)["exc_maps_most"]["layout"]["annotations"]]
    top = np.argsort(excitation)[::-1][:4]
    assert titles[:4] == [f"ch {c}: s = {excitation[c]:.2f}" for c in top]


def test_inputs_by_class_from_the_mistakes_and_the_drawing(saved, senet, test_split):
    labels = saved.labels
    at = _page()
    at.radio(key="exc_source").set_value("a test image of a class").run()
    at.selectbox(key="exc_input_class_mnist").select(4).run()
    at.slider(key="exc_nth").set_value(2).run()
    index = int(np.flatnonzero(labels == 4)[1])
    fresh = senet.predict(test_split.images[index : index + 1])[0]
    assert f"SENet predicts {_answer(fresh)}; it is test image {index}, a 4" in _texts(at)

    at.radio(key="exc_source").set_value("one of the SENet's mistakes").run()
    mistakes = np.flatnonzero(saved.predictions("senet") != labels).tolist()
    assert at.selectbox(key="exc_mistake_mnist").options == [
        f"test image {i}: {_a(labels[i])} taken for {_a(saved.predictions('senet')[i])}"
        for i in mistakes
    ]
    last = mistakes[-1]
    at.selectbox(key="exc_mistake_mnist").select(last).run()
    fresh = senet.predict(test_split.images[last : last + 1])[0]
    assert int(fresh.argmax()) != labels[last]
    assert f"SENet predicts {_answer(fresh)}; it is test image {last}, {_a(labels[last])}" in (
        _texts(at)
    )

    assert "the current drawing" not in at.radio(key="exc_source").options
    drawing = test_split.images[7].numpy().astype(np.float32) / 255.0
    at.session_state["current_drawing"] = drawing
    at.run()
    at.radio(key="exc_source").set_value("the current drawing").run()
    assert not at.exception, at.exception
    fresh = senet.predict(test_split.images[7:8])[0]
    assert f"SENet predicts {_answer(fresh)}" in _texts(at)


def test_switching_every_block_off_on_the_page_gives_the_cnn_path(cnn_from_senet, test_split):
    at = _page()
    at.radio(key="exc_int_mode").set_value("off").run()
    at.toggle(key="exc_int_all").set_value(True).run()
    expected = predict(cnn_from_senet, test_split.images[:1], dataset=DatasetName.MNIST)[0]
    assert (
        _intervention_lines(at)[2] == f"SENet with all its SE blocks removed: {_answer(expected)}"
    )
    assert any("not the Basic CNN, which was trained without SE" in t for t in _texts(at))
    bars = plotly_charts(at)["exc_int_bars"]["data"]
    assert all(np.all(plotly_values(trace["y"]) == 1.0) for trace in bars if trace["type"] == "bar")
    assert {t["name"] for t in bars if t["type"] == "bar"} == {
        "SENet with all its SE blocks removed"
    }


def test_an_intervention_in_one_session_leaves_another_sessions_predictions_unchanged(
    senet, test_split
):
    answer = _answer(senet.predict(test_split.images[:1])[0])
    other = _page()
    before = _intervention_lines(other)
    assert before[1:] == [f"SENet as trained: {answer}"]  # "none": the trained SENet, once
    bars = plotly_charts(other)["exc_int_probabilities"]["data"]
    assert [t["name"] for t in bars if t["type"] == "bar"] == ["SENet as trained"]

    one = _page()
    one.selectbox(key="exc_block").select("stages.2.se").run()
    one.radio(key="exc_int_mode").set_value("scale").run()
    one.selectbox(key="exc_int_channel_stages.2.se_mnist").select(63)
    one.slider(key="exc_int_scale").set_value(3.0).run()
    scaled = _intervention_lines(one)
    one.radio(key="exc_int_mode").set_value("off").run()
    one.toggle(key="exc_int_all").set_value(True).run()
    switched_off = _intervention_lines(one)
    for lines in (scaled, switched_off):
        assert lines[1] == f"SENet as trained: {answer}"
        assert not lines[2].endswith(answer)

    other.run()
    assert not other.exception, other.exception
    assert _intervention_lines(other) == before
    assert f"SENet predicts {answer}; it is test image 0, a {int(test_split.labels[0])}" in _texts(
        other
    )


@pytest.mark.slow
def test_the_test_set_accuracy_of_an_intervention(saved, senet, test_split):
    at = _page()
    at.selectbox(key="exc_block").select("stages.2.se").run()
    at.radio(key="exc_int_mode").set_value("off").run()
    # Saved for the whole test set: shown at once, named as the network it is.
    expected = saved.record["models"]["senet"]["se_interventions"]["off"]["stages.2.se"]
    assert at.metric[0].label == "Test accuracy, SENet with block 3's SE removed"
    assert at.metric[0].value == f"{100 * expected:.2f} %"
    # A removed channel was measured once too: its saved accuracy, no button.
    at.radio(key="exc_int_mode").set_value("scale").run()
    channel = at.selectbox(key="exc_int_channel_stages.2.se_mnist").value
    removed = intervened_accuracy(
        senet.model,
        [Intervention("stages.2.se", "scale", channel=channel, scale=0.0)],
        test_split.images,
        test_split.labels,
        dataset=senet.dataset.key,
        config=senet.config,
    )
    assert at.metric[0].value == f"{100 * removed:.2f} %"
    assert not at.button
    # Anything else: measured on the fixed subset when asked, with its interval.
    at.slider(key="exc_int_scale").set_value(0.5).run()
    assert not at.metric
    at.button(key="exc_int_run").click().run()
    assert not at.exception, at.exception
    indices = stratified_subset(saved.labels)
    change = [Intervention("stages.2.se", "scale", channel=channel, scale=0.5)]
    result = subset_accuracy(
        senet.model,
        change,
        test_split.images,
        test_split.labels,
        indices,
        dataset=senet.dataset.key,
        config=senet.config,
    )
    assert at.metric[0].value == f"{100 * result.accuracy:.1f} %"
    caption = next(c.value for c in at.caption if "Wilson" in c.value)
    assert f"subset of {len(indices):,} of the 10,000 test images" in caption
    assert f"{100 * result.low:.1f} % to {100 * result.high:.1f} %" in caption
    at.slider(key="exc_int_scale").set_value(0.6).run()
    assert not at.metric  # a result only for the settings it was computed for


def test_suggested_channels_come_first_with_their_measured_effect():
    at = _page()
    at.radio(key="exc_int_mode").set_value("scale").run()
    effects = load_channel_effects(MNIST_CHECKPOINTS)
    assert effects is not None
    options = at.selectbox(key="exc_int_channel_stages.0.se_mnist").options
    assert len(options) == 16
    for option, effect in zip(options[:5], effects["stages.0.se"][:5], strict=True):
        assert option.startswith(f"channel {effect.channel}: without it")
        assert f"({100 * effect.change:+.2f} pp)" in option


def test_the_fashion_page_speaks_of_clothes(monkeypatch):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["dataset"] = "fashion"
    at.run()
    assert not at.exception, at.exception
    names = list(dataset_info("fashion").class_names)
    chart = plotly_charts(at)["exc_int_probabilities"]
    assert chart["layout"]["xaxis"]["title"]["text"] == "class"
    assert all(list(trace["x"]) == names for trace in chart["data"] if trace["type"] == "bar")
    at.radio(key="exc_source").set_value("one of the SENet's mistakes").run()
    options = at.selectbox(key="exc_mistake_fashion").options
    assert any(" an Ankle boot" in option for option in options)
    assert not any(" a Ankle boot" in option for option in options)


def test_without_the_dataset_the_page_says_so_and_keeps_the_class_view(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_DEMO_DATA", str(tmp_path))  # test data is cached per data root
    at = _page()
    assert any("not available" in i.value for i in at.info)
    assert {"exc_depth", "exc_heatmap", "exc_spread"} <= set(plotly_charts(at))
    assert "exc_bars" not in plotly_charts(at)
    assert not at.button
    assert len(at.dataframe) == 1


@pytest.mark.slow
def test_a_change_inside_the_interval_is_not_drawn_as_a_loss(saved):
    at = _page()
    at.radio(key="exc_int_mode").set_value("scale").run()
    at.slider(key="exc_int_scale").set_value(1.0).run()  # scaled by 1: the trained SENet
    at.button(key="exc_int_run").click().run()
    assert not at.exception, at.exception
    (metric,) = at.metric
    trained = saved.metrics("senet")["accuracy"]
    assert metric.proto.delta == "+0.0 pp"
    assert metric.proto.color == metric.proto.MetricColor.GRAY  # not red, not green
    caption = next(c.value for c in at.caption if "Wilson" in c.value)
    assert f"{100 * trained:.2f} % of all of them, inside the interval" in caption


def test_an_interventions_saved_accuracy_comes_from_the_evaluation_or_the_channel_effects(saved):
    summary = saved.record["models"]["senet"]
    effects = load_channel_effects(MNIST_CHECKPOINTS)
    assert effects is not None
    interventions = summary["se_interventions"]
    blocks = tuple(saved.excitations["senet"])
    for mode in ("off", "mean"):
        one = Intervention(blocks[0], mode)
        assert saved_accuracy(summary, effects, blocks[:1], one) == interventions[mode][blocks[0]]
        assert saved_accuracy(summary, effects, blocks, one) == interventions[mode]["all"]
        assert saved_accuracy({}, effects, blocks[:1], one) is None  # not measured yet
    removed = effects[blocks[1]][3]
    scaled = Intervention(blocks[1], "scale", channel=removed.channel, scale=0.0)
    assert saved_accuracy(summary, effects, blocks[1:2], scaled) == removed.accuracy
    assert saved_accuracy(summary, None, blocks[1:2], scaled) is None
    halved = Intervention(blocks[1], "scale", channel=removed.channel, scale=0.5)
    assert saved_accuracy(summary, effects, blocks[1:2], halved) is None  # never saved
