"""Figures of the Results page besides the confusion matrices (`figures.confusion`):
per-class precision, recall and F1.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.core.registry import MODEL_COLORS


def per_class_bars(
    per_class: dict[str, dict[str, list[float]]],
    *,
    titles: Mapping[str, str] | None = None,
    class_names: list[str] | None = None,
    height: int = 360,
) -> go.Figure:
    """Grouped bars of per-class precision, recall and F1 (one panel each), one colour per model.

    ``per_class`` maps a model name to ``{"precision": [K], "recall": [K], "f1": [K]}``.
    The shared y axis starts just below the lowest value, so differences of a tenth of
    a percent stay visible; hover gives the exact values.
    """
    titles = titles or {}
    metrics = ("precision", "recall", "f1")
    lowest = min(min(per_class[name][m]) for name in per_class for m in metrics)
    classes = np.arange(len(next(iter(per_class.values()))["f1"]))
    class_names = class_names or [str(c) for c in classes]
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=["precision", "recall", "F1"], shared_yaxes=True
    )
    for col, metric in enumerate(metrics, start=1):
        for name, values in per_class.items():
            fig.add_trace(
                go.Bar(
                    x=class_names,
                    y=values[metric],
                    name=titles.get(name, name),
                    legendgroup=name,
                    showlegend=col == 1,
                    marker_color=MODEL_COLORS.get(name),
                    hovertemplate=f"class %{{x}}<br>{metric} %{{y:.5f}}<extra>{titles.get(name, name)}</extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="class", type="category", row=1, col=col)
    floor = max(0.0, np.floor((lowest - 0.002) * 200) / 200)
    fig.update_yaxes(range=[floor, 1.0], tickformat=".1%")
    fig.update_layout(
        barmode="group",
        height=height,
        margin={"l": 50, "r": 10, "t": 70, "b": 40},
        legend={"orientation": "h", "y": 1.2, "x": 0, "xanchor": "left"},
    )
    return fig
