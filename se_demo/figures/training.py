"""Figures of the Training lab: the live training curves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.core.registry import MODEL_COLORS


def training_curves(curve: list[dict[str, Any]], titles: Mapping[str, str]) -> go.Figure:
    """Live training loss and accuracy (%) against the training step, one series per model.

    ``curve``: points with keys model, step, loss, accuracy (running means over the epoch,
    accuracy a fraction); ``titles`` names each model in the legend. Lines with markers,
    so that the first point shows alone; the accuracy axis is fixed at 0-100 %.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("training loss", "training accuracy (running mean)")
    )
    for name in dict.fromkeys(point["model"] for point in curve):
        points = [p for p in curve if p["model"] == name]
        steps = [p["step"] for p in points]
        title = titles.get(name, name)
        for col, values in (
            (1, [p["loss"] for p in points]),
            (2, [100 * p["accuracy"] for p in points]),
        ):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=values,
                    mode="lines+markers",
                    marker={"size": 5},
                    name=title,
                    line={"color": MODEL_COLORS.get(name)},
                    showlegend=col == 1,
                    legendgroup=name,
                    hovertemplate=f"{title}, step %{{x}}: %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="training step (batches)", rangemode="tozero")
    fig.update_yaxes(title_text="loss (cross-entropy)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100], ticksuffix=" %", row=1, col=2)
    fig.update_layout(
        height=340, margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend_title_text="model"
    )
    return fig
