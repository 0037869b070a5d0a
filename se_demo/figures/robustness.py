"""Plotly figures of the Robustness page: data in, figure out. No streamlit, no torch."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.core.registry import MODEL_COLORS, MODEL_TITLES, se_block_number
from se_demo.robustness.results import ALPHA, FIRST, SECOND, Robustness
from se_demo.words import p_value

COLUMNS = 5


def severity_curves(sweep: Robustness) -> go.Figure:
    """Accuracy (%) against severity (0 = clean), one small panel per corruption, both models."""
    corruptions = sweep.record["corruptions"]
    severities = [0, *sweep.record["severities"]]
    rows = math.ceil(len(corruptions) / COLUMNS)
    fig = make_subplots(
        rows=rows,
        cols=COLUMNS,
        subplot_titles=[info["title"] for info in corruptions.values()],
        shared_xaxes=True,
        shared_yaxes=True,
        vertical_spacing=0.12,
        horizontal_spacing=0.03,
    )
    for k, name in enumerate(corruptions):
        row, col = divmod(k, COLUMNS)
        for model in (FIRST, SECOND):
            accuracy = [100 * sweep.accuracy(model, name, s) for s in severities]
            fig.add_trace(
                go.Scatter(
                    x=severities,
                    y=accuracy,
                    mode="lines+markers",
                    name=MODEL_TITLES[model],
                    legendgroup=model,
                    showlegend=k == 0,
                    line={"color": MODEL_COLORS[model]},
                    hovertemplate=f"{MODEL_TITLES[model]}<br>severity %{{x}}: %{{y:.1f}} %<extra></extra>",
                ),
                row=row + 1,
                col=col + 1,
            )
    fig.update_xaxes(tickvals=severities)
    fig.update_yaxes(range=[0, 102])
    fig.update_yaxes(title_text="accuracy (%)", col=1)
    fig.update_xaxes(title_text="severity", row=rows)
    fig.update_layout(
        height=230 * rows + 60,
        margin={"l": 60, "r": 10, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.05, "x": 1, "xanchor": "right"},
    )
    return fig


def _signed(points: float) -> str:
    """'+1.2', '-0.4', and '0.0' rather than '-0.0' for a tiny negative value."""
    return "0.0" if round(points, 1) == 0 else f"{points:+.1f}"


def difference_heatmap(sweep: Robustness) -> go.Figure:
    """SENet minus CNN accuracy (percentage points) per corruption and severity.

    Cells whose paired test survives Holm's correction carry a star.
    """
    corruptions = sweep.record["corruptions"]
    severities = sweep.record["severities"]
    names = list(corruptions)
    z = np.array(
        [
            [100 * (sweep.accuracy(SECOND, n, s) - sweep.accuracy(FIRST, n, s)) for s in severities]
            for n in names
        ]
    )
    holm_p = {(t["corruption"], t["severity"]): t["p_holm"] for t in sweep.record["mcnemar"]}
    text = [
        [
            f"{_signed(z[i, j])}{' *' if holm_p[(n, s)] < ALPHA else ''}"
            for j, s in enumerate(severities)
        ]
        for i, n in enumerate(names)
    ]
    largest = max(float(np.abs(z).max()), 1.0)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"severity {s}" for s in severities],
            y=[corruptions[n]["title"] for n in names],
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu_r",
            zmin=-largest,
            zmax=largest,
            colorbar={"title": {"text": "pp"}},
            customdata=[[p_value(holm_p[(n, s)]) for s in severities] for n in names],
            hovertemplate=(
                "%{y}, %{x}<br>SENet − CNN: %{z:+.1f} pp<br>Holm-adjusted %{customdata}"
                "<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        height=32 * len(names) + 90,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={
            "text": f"SENet − CNN accuracy (pp); * Holm-adjusted p < {ALPHA}",
            "font": {"size": 14},
        },
    )
    return fig


def excitation_shift_bars(
    blocks: list[str], shift: np.ndarray, between_class: list[float]
) -> go.Figure:
    """Per SE block: how far the corruption moves the class-mean excitations (RMS), beside
    how far apart the clean class means are (the scale of a meaningful change).
    """
    labels = [f"SE block {se_block_number(b)}" for b in blocks]
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=shift,
                name="shift under the corruption",
                marker_color=MODEL_COLORS[SECOND],
                hovertemplate="%{x}: %{y:.3f}<extra>shift</extra>",
            ),
            go.Scatter(
                x=labels,
                y=between_class,
                mode="markers",
                name="spread of the clean class means",
                marker={
                    "color": "black",
                    "symbol": "line-ew-open",
                    "size": 24,
                    "line": {"width": 3},
                },
                hovertemplate="%{x}: %{y:.3f}<extra>between classes</extra>",
            ),
        ]
    )
    fig.update_yaxes(title_text="RMS excitation difference", rangemode="tozero")
    fig.update_layout(
        height=300,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": 1.15, "x": 0},
    )
    return fig
