"""Plotly figure builders: data in, figure out. No streamlit, no model code."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MODEL_COLORS = {"cnn": "#636EFA", "senet": "#EF553B"}


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    index = int(block.split(".")[1]) + 1 if block.startswith("stages.") else block
    return f"SE block {index} ({channels} channels)"


def excitation_bars(
    excitations: dict[str, np.ndarray],
    reference: dict[str, np.ndarray] | None = None,
    reference_label: str = "class mean",
    height_per_block: int = 150,
) -> go.Figure:
    """One bar chart per SE block of one input's channel excitations (C,), stacked by depth.

    ``reference`` (same keys and shapes), when given, is drawn over the bars as markers,
    for example the test-set mean excitation of the predicted class.
    """
    blocks = list(excitations)
    fig = make_subplots(
        rows=len(blocks),
        cols=1,
        subplot_titles=[block_title(b, len(excitations[b])) for b in blocks],
        vertical_spacing=0.12 if len(blocks) > 1 else 0.0,
    )
    for row, block in enumerate(blocks, start=1):
        values = np.asarray(excitations[block], dtype=float)
        channels = np.arange(len(values))
        fig.add_trace(
            go.Bar(
                x=channels,
                y=values,
                name="this input",
                marker_color=MODEL_COLORS["senet"],
                showlegend=row == 1,
                hovertemplate="channel %{x}<br>excitation %{y:.3f}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        if reference is not None and block in reference:
            fig.add_trace(
                go.Scatter(
                    x=channels,
                    y=np.asarray(reference[block], dtype=float),
                    mode="markers",
                    name=reference_label,
                    marker={"color": "black", "symbol": "line-ew-open", "size": 10},
                    showlegend=row == 1,
                    hovertemplate="channel %{x}<br>" + reference_label + " %{y:.3f}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_xaxes(title_text="channel" if row == len(blocks) else None, row=row, col=1)
        fig.update_yaxes(title_text="excitation", row=row, col=1)
    fig.update_layout(
        height=height_per_block * len(blocks) + 80,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        bargap=0.1,
        legend={"orientation": "h", "y": -0.08 if len(blocks) > 1 else -0.3},
    )
    return fig
