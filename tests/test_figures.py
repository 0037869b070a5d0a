"""The Results page's figure builders, on the saved evaluation of the shipped checkpoints."""

from __future__ import annotations

import base64
import io
import itertools

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix

from app_pages.results_confusion import selected_cell
from se_demo.analysis.results import CONFUSION_VIEWS, load_evaluation, normalize_confusion
from se_demo.core.registry import MODEL_COLORS, MODEL_TITLES
from se_demo.figures.common import block_title, pixels_png
from se_demo.figures.confusion import confusion_difference_heatmap, confusion_heatmaps
from se_demo.figures.draw import excitation_bars, probability_bars
from se_demo.figures.results import per_class_bars
from se_demo.figures.training import training_curves
from tests.conftest import MNIST_CHECKPOINTS

SKLEARN_NORMALIZE = {"counts": None, "recall": "true", "precision": "pred"}


@pytest.fixture(scope="module")
def evaluation():
    return load_evaluation(MNIST_CHECKPOINTS)


@pytest.fixture(scope="module")
def confusions(evaluation):
    return {name: np.asarray(evaluation.metrics(name)["confusion"]) for name in ("cnn", "senet")}


def _traces(fig: go.Figure, kind: type, model: str | None = None) -> list:
    return [t for t in fig.data if isinstance(t, kind) and (model is None or t.meta == model)]


@pytest.mark.parametrize("view", list(CONFUSION_VIEWS))
def test_normalize_confusion_matches_scikit_learn(view, evaluation):
    for name in ("cnn", "senet"):
        counts = np.asarray(evaluation.metrics(name)["confusion"])
        expected = confusion_matrix(
            evaluation.labels, evaluation.predictions(name), normalize=SKLEARN_NORMALIZE[view]
        )
        np.testing.assert_allclose(normalize_confusion(counts, view), expected, atol=1e-12)


def test_normalize_confusion_handles_empty_columns_and_bad_views():
    counts = np.array([[3, 0], [1, 0]])  # nothing is ever predicted as class 1
    np.testing.assert_allclose(normalize_confusion(counts, "precision"), [[0.75, 0], [0.25, 0]])
    np.testing.assert_allclose(normalize_confusion(counts, "recall"), [[1, 0], [1, 0]])
    with pytest.raises(ValueError, match="'rows'"):
        normalize_confusion(counts, "rows")


@pytest.mark.parametrize("view", list(CONFUSION_VIEWS))
def test_heatmaps_show_the_normalised_confusion_on_one_colour_scale(view, confusions):
    fig = confusion_heatmaps(confusions, view=view, titles=MODEL_TITLES)
    heatmaps = [t for t in _traces(fig, go.Heatmap) if t.meta]
    assert [t.meta for t in heatmaps] == ["cnn", "senet"]
    for trace in heatmaps:
        np.testing.assert_allclose(trace.z, normalize_confusion(confusions[trace.meta], view))
        assert trace.coloraxis == "coloraxis"
    largest = max(normalize_confusion(c, view).max() for c in confusions.values())
    assert fig.layout.coloraxis.cmin == 0
    assert fig.layout.coloraxis.cmax == pytest.approx(largest)
    assert [a.text for a in fig.layout.annotations] == ["Basic CNN", "SENet"]


def test_muted_diagonal_leaves_the_errors_to_the_colour_scale(confusions):
    fig = confusion_heatmaps(confusions, view="counts", mute_diagonal=True)
    heatmaps = [t for t in _traces(fig, go.Heatmap) if t.meta]
    for trace in heatmaps:
        z = np.asarray(trace.z, dtype=float)
        assert np.isnan(np.diag(z)).all()
        off_diagonal = ~np.eye(10, dtype=bool)
        np.testing.assert_array_equal(z[off_diagonal], confusions[trace.meta][off_diagonal])
    largest_error = max(c[~np.eye(10, dtype=bool)].max() for c in confusions.values())
    assert fig.layout.coloraxis.cmax == largest_error
    # The grey diagonal traces still show the diagonal counts, outside the colour scale.
    grey = [t for t in _traces(fig, go.Heatmap) if not t.meta]
    assert len(grey) == 2
    for trace, name in zip(grey, ("cnn", "senet"), strict=True):
        assert trace.coloraxis is None
        assert trace.showscale is False
        assert [trace.text[i][i] for i in range(10)] == [
            str(confusions[name][i, i]) for i in range(10)
        ]


def test_hover_gives_true_predicted_count_and_percentages(confusions):
    fig = confusion_heatmaps(confusions, view="recall", titles=MODEL_TITLES)
    (overlay,) = _traces(fig, go.Scatter, "senet")
    counts = confusions["senet"]
    for true_class, predicted_class in [(9, 4), (5, 3), (0, 0)]:
        point = true_class * 10 + predicted_class
        assert (overlay.y[point], overlay.x[point]) == (true_class, predicted_class)
        label, predicted_label, count, row_pct, column_pct = overlay.customdata[point]
        assert (label, predicted_label) == (str(true_class), str(predicted_class))
        assert count == counts[true_class, predicted_class]
        assert row_pct == pytest.approx(100 * count / counts[true_class].sum())
        assert column_pct == pytest.approx(100 * count / counts[:, predicted_class].sum())
    for key in ("true", "predicted", "images", "of true", "of predicted"):
        assert key in overlay.hovertemplate


def test_selected_cell_reads_a_click_on_either_model(confusions):
    fig = confusion_heatmaps(confusions, mute_diagonal=True)
    curve = {t.meta: i for i, t in enumerate(fig.data) if isinstance(t, go.Scatter)}
    click = {"curve_number": curve["senet"], "point_number": 94, "x": 4, "y": 9}
    assert selected_cell(fig, [click]) == ("senet", 9, 4)
    earlier = {"curve_number": curve["cnn"], "point_number": 53, "x": 3, "y": 5}
    assert selected_cell(fig, [earlier, click]) == ("senet", 9, 4)
    assert selected_cell(fig, [earlier]) == ("cnn", 5, 3)
    heatmap_curve = next(i for i, t in enumerate(fig.data) if isinstance(t, go.Heatmap))
    assert selected_cell(fig, [{"curve_number": heatmap_curve, "x": 1, "y": 1}]) is None
    assert selected_cell(fig, []) is None


@pytest.mark.parametrize("view", list(CONFUSION_VIEWS))
def test_difference_heatmap_is_senet_minus_cnn(view, confusions):
    fig = confusion_difference_heatmap(confusions["cnn"], confusions["senet"], view=view)
    (trace,) = fig.data
    expected = normalize_confusion(confusions["senet"], view) - normalize_confusion(
        confusions["cnn"], view
    )
    np.testing.assert_allclose(trace.z, expected)
    assert trace.zmid == 0
    assert trace.zmin == -trace.zmax == pytest.approx(-np.abs(expected).max())


def test_difference_heatmap_counts_on_the_saved_matrices(confusions):
    fig = confusion_difference_heatmap(
        confusions["cnn"], confusions["senet"], view="counts", mute_diagonal=True
    )
    trace, diagonal = fig.data
    z = np.asarray(trace.z, dtype=float)
    difference = confusions["senet"] - confusions["cnn"]
    assert np.isnan(np.diag(z)).all()
    assert z[9, 4] == difference[9, 4]
    assert trace.text[5][9] == f"{difference[5, 9]:+d}"
    assert diagonal.text[5][5] == (f"{difference[5, 5]:+d}" if difference[5, 5] else "")
    assert sum(np.nansum(z, axis=1)) == -np.trace(difference)  # rows of both sum to the support


def test_per_class_bars_are_grouped_by_model(evaluation):
    per_class = {name: evaluation.metrics(name)["per_class"] for name in ("cnn", "senet")}
    fig = per_class_bars(per_class, titles=MODEL_TITLES)
    assert fig.layout.barmode == "group"
    assert len(fig.data) == 6
    for index, trace in enumerate(fig.data):
        metric = ("precision", "recall", "f1")[index // 2]
        name = ("cnn", "senet")[index % 2]
        np.testing.assert_allclose(trace.y, per_class[name][metric])
        assert trace.name == MODEL_TITLES[name]
        assert trace.marker.color == MODEL_COLORS[name]
    low, high = fig.layout.yaxis.range
    lowest = min(min(per_class[n][m]) for n in per_class for m in ("precision", "recall", "f1"))
    assert low < lowest
    assert high == 1.0


def test_class_names_label_the_axes_and_the_hover(confusions):
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"] + [f"c{i}" for i in range(5)]
    fig = confusion_heatmaps(confusions, class_names=names)
    assert list(fig.layout.xaxis.ticktext) == names
    assert list(fig.layout.yaxis2.ticktext) == names
    # The rows are named once, left of the first matrix: the second's names ran into the
    # first matrix's last column (Fashion-MNIST's "Ankle boot" over its count).
    assert fig.layout.yaxis.showticklabels is True
    assert fig.layout.yaxis2.showticklabels is False
    (overlay,) = _traces(fig, go.Scatter, "cnn")
    assert tuple(overlay.customdata[1 * 10 + 3][:2]) == ("Trouser", "Dress")
    difference = confusion_difference_heatmap(
        confusions["cnn"], confusions["senet"], class_names=names
    )
    assert list(difference.layout.xaxis.ticktext) == names
    assert list(difference.data[0].customdata[0][4][:2]) == ["T-shirt/top", "Coat"]


def test_training_curves_show_a_single_point_with_named_series_and_a_percent_axis():
    # A 1,000-image run's first logged step: the chart must not be empty (it was, with
    # lines only and one point per ten steps) and its legend must name the models.
    curve = [{"model": "cnn", "step": 1, "epoch": 1, "loss": 2.3, "accuracy": 0.11}]
    fig = training_curves(curve, MODEL_TITLES)
    assert [trace.name for trace in fig.data] == ["Basic CNN", "Basic CNN"]
    assert all("markers" in trace.mode for trace in fig.data)
    assert list(fig.data[1].y) == [pytest.approx(11.0)]
    assert list(fig.layout.yaxis2.range) == [0, 100]
    assert fig.layout.yaxis2.title.text == "accuracy (%)"
    assert fig.layout.xaxis.title.text == "training step (batches)"


def test_excitation_bars_stack_one_panel_per_block_without_overlap(evaluation):
    saved = {block: x[0].astype(float) for block, x in evaluation.excitations["senet"].items()}
    means = {block: x.mean(0).astype(float) for block, x in evaluation.excitations["senet"].items()}
    fig = excitation_bars(saved, means, reference_label="test-set mean of 7s")
    blocks = list(saved)
    domains = [fig.layout[f"yaxis{'' if i == 0 else i + 1}"].domain for i in range(len(blocks))]
    assert domains[0][1] == 1.0
    assert domains[-1][0] == pytest.approx(0.0)
    for upper, lower in itertools.pairwise(domains):  # top to bottom, a gap between
        assert lower[1] < upper[0]
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [block_title(b, len(saved[b])) for b in blocks]
    assert titles[0].startswith("SE block 1 (")
    bars, marks = _traces(fig, go.Bar), _traces(fig, go.Scatter)
    assert [len(t.y) for t in bars] == [len(saved[b]) for b in blocks]
    assert [list(t.y) for t in marks] == [list(means[b]) for b in blocks]
    assert [t.showlegend for t in bars] == [True] + [False] * (len(blocks) - 1)
    assert [t.yaxis for t in bars] == ["y"] + [f"y{i + 1}" for i in range(1, len(blocks))]
    assert fig.layout.xaxis.title.text is None
    assert fig.layout[f"xaxis{len(blocks)}"].title.text == "channel"


def test_probability_bars_group_both_models_under_the_unsure_line(evaluation):
    probabilities = {name: evaluation.probabilities[name][0] for name in ("cnn", "senet")}
    fig = probability_bars(probabilities, titles=MODEL_TITLES, threshold=0.5)
    bars = _traces(fig, go.Bar)
    assert [t.name for t in bars] == [MODEL_TITLES["cnn"], MODEL_TITLES["senet"]]
    assert [list(t.y) for t in bars] == [list(probabilities["cnn"]), list(probabilities["senet"])]
    assert [t.marker.color for t in bars] == [MODEL_COLORS["cnn"], MODEL_COLORS["senet"]]
    (line,) = _traces(fig, go.Scatter)
    assert list(line.y) == [0.5, 0.5]
    assert line.line.dash == "dash"
    assert line.name == "unsure below 50 %"  # in the legend, never on the bars
    assert fig.layout.barmode == "group"
    assert _traces(probability_bars(probabilities), go.Scatter) == []


@pytest.mark.parametrize("scale", [1, 3, 4])
def test_an_image_is_an_inline_png_with_crisp_enlarged_pixels(scale):
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    url = pixels_png(pixels, scale)
    assert url.startswith("data:image/png;base64,")  # inline: no media file to go missing
    image = Image.open(io.BytesIO(base64.b64decode(url.removeprefix("data:image/png;base64,"))))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (28 * scale, 28 * scale))
    # Nearest neighbour: each pixel a scale x scale block of its own value, nothing blended.
    np.testing.assert_array_equal(np.asarray(image), np.kron(pixels, np.ones((scale, scale))))
