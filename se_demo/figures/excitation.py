"""Figures of the SE excitation explorer: class view, depth profile, recalibration.

Plotly builders, data in, figure out, like `se_demo.figures.draw` (which keeps the figures other
pages share: the excitation bars and the probability bars).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.analysis.excitation_text import format_share
from se_demo.core.registry import MODEL_COLORS, ModelKind
from se_demo.figures.common import block_title


def class_mean_heatmap(
    means: np.ndarray,
    overall: np.ndarray,
    *,
    title: str,
    class_names: list[str],
    relative: bool = False,
) -> go.Figure:
    """Class-mean excitations (K, C) of one SE block as a heatmap, channels by index.

    Absolute (default): rows are the classes plus the all-class mean ``overall`` (C,), on
    the gate's full 0-1 scale, so blocks whose excitations barely move look uniform. ``relative``:
    each class mean minus the all-class mean, on a diverging scale fitted to the data, so
    small class differences become visible (the colour bar tells how small).
    """
    means = np.asarray(means, dtype=float)
    overall = np.asarray(overall, dtype=float)
    channels = np.arange(means.shape[1])
    if relative:
        z = means - overall
        rows = list(class_names)
        limit = float(np.abs(z).max()) or 1.0
        colour = {"colorscale": "RdBu_r", "zmid": 0.0, "zmin": -limit, "zmax": limit}
        what = "class mean - all-class mean"
    else:
        z = np.vstack([means, overall])
        rows = [*class_names, "all classes"]
        # The gate's full range: 0-1 for the sigmoid, wider for a tanh or ReLU gate.
        colour = {"colorscale": "Viridis", "zmin": min(0.0, z.min()), "zmax": max(1.0, z.max())}
        what = "mean excitation"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=channels,
            y=rows,
            **colour,
            colorbar={"title": {"text": what}},
            hovertemplate="class %{y}, channel %{x}<br>" + what + " %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=360,
        margin={"l": 70, "r": 10, "t": 40, "b": 40},
        xaxis={"title": "channel"},
        yaxis={"title": "class", "autorange": "reversed", "type": "category"},
    )
    return fig


def class_spread_chart(
    mean: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    overall: np.ndarray,
    *,
    title: str,
    class_name: str,
) -> go.Figure:
    """One class's excitations per channel (the paper's Fig. 7): mean and 10-90% band.

    Each array is (C,); ``overall`` is the all-class mean, drawn dashed for comparison.
    """
    channels = np.arange(len(mean))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([channels, channels[::-1]]),
            y=np.concatenate([np.asarray(high, float), np.asarray(low, float)[::-1]]),
            fill="toself",
            fillcolor="rgba(239, 85, 59, 0.25)",
            line={"width": 0},
            hoverinfo="skip",
            name=f"class {class_name}: 10-90% of inputs",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=channels,
            y=np.asarray(mean, float),
            mode="lines+markers",
            line={"color": MODEL_COLORS[ModelKind.SENET]},
            name=f"class {class_name}: mean",
            hovertemplate="channel %{x}<br>class mean %{y:.3f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=channels,
            y=np.asarray(overall, float),
            mode="lines",
            line={"color": "black", "dash": "dash"},
            name="all classes: mean",
            hovertemplate="channel %{x}<br>all-class mean %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=320,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        xaxis={"title": "channel"},
        yaxis={
            "title": "excitation",
            "range": [min(0.0, float(np.min(low))), max(1.0, float(np.max(high)))],
        },
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


_BETWEEN_COLOUR = "#FFA15A"  # not the SENet red of the class-specificity bars beside it
_SATURATED_COLOUR, _SUPPRESSED_COLOUR = "#00CC96", "#AB63FA"


def _spread_bars(names: list[str], stats: list[dict[str, Any]]) -> list[go.Bar]:
    """The std of the excitations between the class means and within a class, per block."""
    return [
        go.Bar(
            x=names,
            y=[s[key] for s in stats],
            marker_color=colour,
            name=f"std {label}",
            hovertemplate="%{x}<br>std " + label + " %{y:.4f}<extra></extra>",
        )
        for key, label, colour in (
            ("between_std", "between classes", _BETWEEN_COLOUR),
            ("within_std", "within a class", "grey"),
        )
    ]


def _saturation_bars(names: list[str], stats: list[dict[str, Any]]) -> list[go.Bar]:
    """The share of excitations above 0.9 and below 0.1, per block, each bar labelled."""
    return [
        go.Bar(
            x=names,
            y=[s[key] for s in stats],
            marker_color=colour,
            name=label,
            # A share of 0.19 % is a bar too thin to see on a 0-100 % axis: its label says it.
            text=[format_share(s[key]) for s in stats],
            textposition="outside",
            hovertemplate="%{x}<br>" + label + " %{y:.2%}<extra></extra>",
        )
        for key, label, colour in (
            ("saturated", "share above 0.9", _SATURATED_COLOUR),
            ("suppressed", "share below 0.1", _SUPPRESSED_COLOUR),
        )
    ]


def depth_profile(stats: list[dict[str, Any]]) -> go.Figure:
    """Class-specificity, spread and saturation of each SE block, in depth order.

    ``stats``: one dict per block with keys block, channels, specificity, between_std,
    within_std, saturated, suppressed (see `se_demo.analysis.excitation.BlockStatistics`).
    """
    names = [block_title(s["block"], s["channels"]).replace(" (", "<br>(") for s in stats]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "share of variance explained by class",
            "spread of excitations (std)",
            "saturation",
        ),
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[s["specificity"] for s in stats],
            marker_color=MODEL_COLORS[ModelKind.SENET],
            name="class-specificity (eta squared)",
            hovertemplate="%{x}<br>explained by class %{y:.1%}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for bar in _spread_bars(names, stats):
        fig.add_trace(bar, row=1, col=2)
    for bar in _saturation_bars(names, stats):
        fig.add_trace(bar, row=1, col=3)
    # Shares on their full 0-100 % scale: an autoscaled axis stretched 0.19 % to full
    # height (ticks all "0 %") and put an all-zero run on -100 %..100 %.
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_yaxes(
        range=[0, 1.1], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%", row=1, col=3
    )
    fig.update_layout(
        barmode="group",
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def _image_axes(fig: go.Figure, count: int) -> None:
    """Axes of the two rows of ``count`` maps: hidden, square pixels, row 0 at the top; the
    first column's y axes name their row."""
    fig.update_xaxes(visible=False)
    for index in range(1, 2 * count + 1):  # square pixels: each y axis follows its own x axis
        fig.layout[f"yaxis{index if index > 1 else ''}"].update(
            visible=False, autorange="reversed", scaleanchor=f"x{index if index > 1 else ''}"
        )
    for row, label in ((1, "before SE"), (2, "after SE")):
        fig.update_yaxes(
            visible=True,
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            title_text=label,
            row=row,
            col=1,
        )


def recalibration_maps(
    before: np.ndarray,
    after: np.ndarray,
    channels: list[int],
    excitation: np.ndarray,
    *,
    title: str,
) -> go.Figure:
    """Feature maps (k, H, W) of k channels before (top row) and after (bottom) SE scaling.

    Each channel's two maps share one grey scale, so the scaling by its excitation shows
    as dimming; column titles give the channel and its excitation.
    """
    before = np.asarray(before, dtype=float)
    after = np.asarray(after, dtype=float)
    count = len(channels)
    fig = make_subplots(
        rows=2,
        cols=count,
        subplot_titles=[
            f"ch {c}: s = {float(s):.2f}" for c, s in zip(channels, excitation, strict=True)
        ]
        + [""] * count,
        horizontal_spacing=0.02,
        vertical_spacing=0.06,
    )
    for col in range(1, count + 1):
        top = max(float(before[col - 1].max()), float(after[col - 1].max())) or 1.0
        for row, maps, stage in ((1, before, "before SE"), (2, after, "after SE")):
            fig.add_trace(
                go.Heatmap(
                    z=maps[col - 1],
                    zmin=0.0,
                    zmax=top,
                    colorscale="gray",
                    showscale=False,
                    hovertemplate=f"{stage}<br>row %{{y}}, column %{{x}}<br>"
                    "activation %{z:.3f}<extra></extra>",
                ),
                row=row,
                col=col,
            )
    _image_axes(fig, count)
    fig.update_layout(
        title=title, height=300, margin={"l": 40, "r": 10, "t": 60, "b": 10}, showlegend=False
    )
    return fig
