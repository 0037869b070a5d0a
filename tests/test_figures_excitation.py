"""The excitation page's figures and the shared bar charts, on the shipped evaluations.

Each test is a bug a user saw, read back from the figure as plotly would draw it:
axis ranges, tick formats, legend colours, the pixels between stacked charts.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict

import numpy as np
import pytest

from se_demo.analysis.excitation_stats import block_statistics
from se_demo.analysis.results import load_evaluation
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.registry import dataset_info
from se_demo.figures.draw import excitation_bars, probability_bars
from se_demo.figures.excitation import depth_profile


@pytest.fixture(scope="module", params=["mnist", "fashion"])
def stats(request) -> list[dict]:
    evaluation = load_evaluation(CHECKPOINT_DIR / request.param)
    saved = evaluation.excitations["senet"]
    return [asdict(s) for s in block_statistics(saved, evaluation.labels)]


def test_saturation_is_drawn_on_its_full_scale_with_readable_labels(stats):
    fig = depth_profile(stats)
    axis = fig.layout.yaxis3
    # Fashion's 0.19 % once filled the panel under ticks that all read "0 %".
    assert tuple(axis.range) == (0, 1.1)
    assert list(axis.tickvals) == [0, 0.25, 0.5, 0.75, 1]
    saturation = [t for t in fig.data if t.xaxis == "x3"]
    for trace, key in zip(saturation, ("saturated", "suppressed"), strict=True):
        for label, stat in zip(trace.text, stats, strict=True):
            value = 100 * stat[key]
            assert label == (
                "0 %" if value == 0 else f"{value:.2g} %" if value < 10 else f"{value:.0f} %"
            )


def test_an_all_zero_run_keeps_its_axes_at_zero_and_up():
    zero = {
        "specificity": 0.0,
        "between_std": 0.0,
        "within_std": 0.0,
        "saturated": 0.0,
        "suppressed": 0.0,
        "channels": 16,
    }
    fig = depth_profile([{**zero, "block": f"stages.{i}.se"} for i in range(3)])
    assert tuple(fig.layout.yaxis3.range) == (0, 1.1)  # was -100 %..100 %, empty
    assert fig.layout.yaxis2.rangemode == "tozero"


def test_every_series_in_the_depth_legend_has_its_own_colour(stats):
    colours = [t.marker.color for t in depth_profile(stats).data]
    assert len(colours) == len(set(colours)) == 5


def test_stacked_excitation_charts_leave_room_for_ticks_and_the_next_title():
    excitations = {f"stages.{i}.se": np.full(c, 0.5) for i, c in enumerate((16, 32, 64))}
    for height in (110, 130, 150):
        fig = excitation_bars(excitations, height_per_block=height, label="with the change")
        plot = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
        domains = [fig.layout[f"yaxis{i if i > 1 else ''}"].domain for i in (1, 2, 3)]
        for upper, lower in itertools.pairwise(domains):
            gap_px = (upper[0] - lower[1]) * plot
            assert gap_px >= 60  # tick labels (~20 px) and the title (~20 px) of the next
        for top_domain in domains:
            assert (top_domain[1] - top_domain[0]) * plot >= height - 1
        assert fig.data[0].name == "with the change"


def test_probability_bars_name_the_classes_and_keep_the_threshold_off_the_bars():
    names = list(dataset_info("fashion").class_names)
    fig = probability_bars(
        {"cnn": np.full(10, 0.1), "senet": np.eye(10)[9]}, threshold=0.6, class_names=names
    )
    assert fig.layout.xaxis.title.text == "class"
    assert all(list(trace.x) == names for trace in fig.data if trace.type == "bar")
    assert not fig.layout.annotations  # "unsure below" once sat on the bars
    line = next(t for t in fig.data if t.type == "scatter")
    assert line.name == "unsure below 60 %"
    assert list(line.y) == [0.6, 0.6]
    digits = probability_bars({"senet": np.eye(10)[3]})
    assert digits.layout.xaxis.title.text == "digit"
    assert list(digits.data[0].x) == [str(d) for d in range(10)]
