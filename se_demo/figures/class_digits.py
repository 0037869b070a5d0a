"""Figures of the class page: the digits per label, and the SENet's excitations on the
class's handwriting against MNIST's."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.core.registry import MODEL_COLORS, ModelKind
from se_demo.figures.common import block_title


def label_counts(per_label: np.ndarray, height: int = 220) -> go.Figure:
    """How many digits of each label the class has drawn (a bar per digit 0-9)."""
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(len(per_label))],
            y=per_label,
            text=[str(int(n)) for n in per_label],
            textposition="outside",
            marker_color=MODEL_COLORS[ModelKind.SENET],
            hovertemplate="digit %{x}: %{y} drawn<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        xaxis_title="digit",
        yaxis_title="digits drawn",
        yaxis_range=[0, max(1, int(per_label.max())) * 1.25],
    )
    return fig


def excitation_comparison(profiles: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Per SE block, the mean excitation of each channel on the class's digits against the
    MNIST test set's class means mixed in the same proportions."""
    blocks = list(profiles)
    fig = make_subplots(
        rows=1,
        cols=len(blocks),
        subplot_titles=[block_title(b, len(profiles[b][0])) for b in blocks],
    )
    for column, block in enumerate(blocks, start=1):
        ours, mnist = profiles[block]
        channels = np.arange(len(ours))
        for values, name, dash in ((mnist, "MNIST test set", "dot"), (ours, "our class", "solid")):
            fig.add_trace(
                go.Scatter(
                    x=channels,
                    y=values,
                    name=name,
                    mode="lines+markers",
                    line={
                        "dash": dash,
                        "color": "#555555" if dash == "dot" else MODEL_COLORS[ModelKind.SENET],
                    },
                    marker={"size": 4},
                    legendgroup=name,
                    showlegend=column == 1,
                    hovertemplate=f"{name}, channel %{{x}}: s = %{{y:.2f}}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        fig.update_xaxes(title_text="channel", row=1, col=column)
    fig.update_yaxes(title_text="mean excitation s", range=[0, 1], row=1, col=1)
    fig.update_layout(height=320, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return fig
