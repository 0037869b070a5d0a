"""Figures of the Seeds and ablations page: the multi-seed comparison, the ablations."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from se_demo.core.registry import MODEL_COLORS, ModelKind


def seed_comparison(record: dict[str, Any]) -> go.Figure:
    """Paired test accuracies over seeds: one line per seed from CNN to SENet."""
    fig = go.Figure()
    runs = record["runs"]
    for cnn, senet in zip(runs[ModelKind.CNN], runs[ModelKind.SENET], strict=True):
        better = senet["accuracy"] > cnn["accuracy"]
        fig.add_trace(
            go.Scatter(
                x=["Basic CNN", "SENet"],
                y=[cnn["accuracy"], senet["accuracy"]],
                mode="lines+markers",
                name=f"seed {cnn['seed']}",
                line={
                    "color": MODEL_COLORS[ModelKind.SENET]
                    if better
                    else MODEL_COLORS[ModelKind.CNN]
                },
                hovertemplate="seed " + str(cnn["seed"]) + ": %{y:.4f}<extra></extra>",
            )
        )
    fig.update_layout(
        yaxis_title="test accuracy",
        height=360,
        margin={"l": 50, "r": 10, "t": 30, "b": 30},
        showlegend=True,
    )
    return fig


def ablation_bars(record: dict[str, Any]) -> go.Figure:
    """Mean test accuracy of each ablation variant with its standard deviation over seeds."""
    rows = record["rows"]
    fig = go.Figure(
        go.Bar(
            x=[f"{row['group']}: {row['label']}" for row in rows],
            y=[row["mean_accuracy"] for row in rows],
            error_y={"type": "data", "array": [row["std_accuracy"] for row in rows]},
            marker_color=[
                MODEL_COLORS[ModelKind.CNN]
                if row["group"] == "baseline"
                else MODEL_COLORS[ModelKind.SENET]
                for row in rows
            ],
            hovertemplate="%{x}<br>accuracy %{y:.4f}<extra></extra>",
        )
    )
    low = min(row["mean_accuracy"] - row["std_accuracy"] for row in rows)
    high = max(row["mean_accuracy"] + row["std_accuracy"] for row in rows)
    pad = (high - low) * 0.3 + 1e-4
    fig.update_layout(
        yaxis={"title": "test accuracy", "range": [low - pad, high + pad]},
        height=380,
        margin={"l": 50, "r": 10, "t": 30, "b": 120},
    )
    return fig
