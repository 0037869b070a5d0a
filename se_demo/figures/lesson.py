"""Figures of the "How SE works" lesson: the two networks as a Graphviz diagram, and the
SE block's steps (bars of the squeeze and excitation, montages of the feature maps).
Data in, figure out: no streamlit, no model code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np
import plotly.graph_objects as go

from se_demo.analysis.lesson import LayerRow
from se_demo.figures.common import DIAGRAM_FONTS

SE_COLOR = "#EF553B"  # the SENet's colour everywhere in the app
KEPT_COLOR = "#EF553B"
SUPPRESSED_COLOR = "#636EFA"
_LAYER_FILL = "#f0f2f6"
_SE_FILL = "#fbd5cf"
_CLASS_BAR = "#80868b"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def format_flops(flops: int) -> str:
    """12,345,678 -> '12.35 MFLOPs'; small counts stay whole: 512 -> '512 FLOPs'."""
    return f"{flops / 1e6:.2f} MFLOPs" if flops >= 100_000 else f"{flops:,} FLOPs"


def _node_label(row: LayerRow, compact: bool) -> str:
    if compact:  # one line: a projector needs large type more than every number
        return f"{row.title} · out {_shape(row.output_shape)}"
    cost = f"{row.parameters:,} params, {format_flops(row.flops)}" if row.parameters else ""
    lines = [row.title, f"out {_shape(row.output_shape)}", cost]
    return "\\n".join(line for line in lines if line)


def architecture_dot(
    networks: dict[str, Sequence[LayerRow]],
    colors: dict[str, str] | None = None,
    *,
    large: bool = False,
) -> str:
    """Graphviz DOT of networks side by side, top to bottom, one node per layer.

    ``networks``: {title: layer rows}. Where one network has an SE block and another does
    not, the other gets a dashed "no SE block" placeholder so that their rows line up.
    ``large``: type for a projector (18 pt, one line per layer: its title and output shape;
    the parameters and FLOPs stay in the cluster's title and the page's table).
    """
    colors = colors or {}
    se_names = {row.name for rows in networks.values() for row in rows if row.is_se}
    font, title_font = DIAGRAM_FONTS[large]
    lines = [
        "digraph networks {",
        "  graph [rankdir=TB, nodesep=0.35, ranksep=0.12, "
        f'fontname="Helvetica", fontsize={title_font}];',
        f'  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize={font}, '
        f'height=0.3, margin="0.08,0.03", fillcolor="{_LAYER_FILL}", color="#9aa0a6"];',
        '  edge [arrowsize=0.5, color="#9aa0a6"];',
    ]
    for index, (title, rows) in enumerate(networks.items()):
        own = {row.name: row for row in rows}
        order = [row.name for row in rows]
        for name in sorted(se_names - set(own)):  # placeholders after their conv
            stage = name.rsplit(".", 1)[0]
            order.insert(order.index(f"{stage}.conv2") + 1, name)
        parameters = sum(row.parameters for row in rows)
        flops = sum(row.flops for row in rows)
        lines += [
            f"  subgraph cluster_{index} {{",
            f'    label="{title}\\n{parameters:,} parameters, {flops / 1e6:.2f} MFLOPs per image";',
            f'    color="{colors.get(title, "#9aa0a6")}"; penwidth=2; style=rounded;',
            f'    n{index}_input [label="input image\\nout 1x28x28", fillcolor="white"];',
        ]
        previous = f"n{index}_input"
        for position, name in enumerate(order):
            node = f"n{index}_{position}"
            if name in own:
                row = own[name]
                style = (
                    f', fillcolor="{_SE_FILL}", color="{SE_COLOR}", penwidth=2' if row.is_se else ""
                )
                lines.append(f'    {node} [label="{_node_label(row, large)}"{style}];')
            else:
                lines.append(
                    f'    {node} [label="no SE block here", style="rounded,dashed", '
                    'fontcolor="#80868b", fillcolor="white"];'
                )
            lines.append(f"    {previous} -> {node};")
            previous = node
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def _se_nodes(prefix: str, source: str) -> tuple[list[str], str]:
    """The SE block's own nodes (squeeze, two FC layers, scale) after ``source``."""
    lines = [
        f'    {prefix}_squeeze [label="squeeze: global average", fillcolor="{_SE_FILL}", '
        f'color="{SE_COLOR}"];',
        f'    {prefix}_fc [label="FC, ReLU, FC, sigmoid: s", fillcolor="{_SE_FILL}", '
        f'color="{SE_COLOR}"];',
        f'    {prefix}_scale [label="scale: s · U", fillcolor="{_SE_FILL}", color="{SE_COLOR}"];',
        f"    {source} -> {prefix}_squeeze -> {prefix}_fc -> {prefix}_scale;",
        f'    {source} -> {prefix}_scale [label=" U", fontcolor="#5f6368"];',
    ]
    return lines, f"{prefix}_scale"


def se_placements_dot(*, large: bool = False) -> str:
    """Graphviz DOT: where SE sits in the paper's SE-ResNet module (Hu et al., Fig. 3) and
    in one stage of our plain CNN, side by side.

    In SE-ResNet, SE rescales the residual branch before the identity shortcut is added;
    our network has no shortcut, so SE rescales the stage's output before its pooling.
    """
    font, title_font = DIAGRAM_FONTS[large]
    resnet, resnet_out = _se_nodes("r", "r_branch")
    ours, ours_out = _se_nodes("p", "p_conv2")
    lines = [
        "digraph placements {",
        f'  graph [rankdir=TB, nodesep=0.3, ranksep=0.15, fontname="Helvetica", fontsize={title_font}];',
        f'  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize={font}, '
        f'height=0.3, margin="0.08,0.03", fillcolor="{_LAYER_FILL}", color="#9aa0a6"];',
        f'  edge [arrowsize=0.5, color="#9aa0a6", fontname="Helvetica", fontsize={font}];',
        "  subgraph cluster_resnet {",
        '    label="SE-ResNet module (the paper’s Fig. 3)"; style=rounded; color="#9aa0a6";',
        '    r_in [label="input X", fillcolor="white"];',
        '    r_branch [label="residual branch: 1x1, 3x3, 1x1 convs"];',
        *resnet,
        '    r_add [label="+", shape=circle, fillcolor="white"];',
        '    r_out [label="ReLU: output", fillcolor="white"];',
        f"    r_in -> r_branch; {resnet_out} -> r_add -> r_out;",
        '    r_in -> r_add [label=" identity shortcut", style=dashed, fontcolor="#5f6368"];',
        "  }",
        "  subgraph cluster_ours {",
        f'    label="One stage of our SENet"; style=rounded; color="{SE_COLOR}";',
        '    p_in [label="input", fillcolor="white"];',
        '    p_conv1 [label="conv 3x3, ReLU"];',
        '    p_conv2 [label="conv 3x3, ReLU: U"];',
        *ours,
        '    p_pool [label="max-pool 2x2: output", fillcolor="white"];',
        f"    p_in -> p_conv1 -> p_conv2; {ours_out} -> p_pool;",
        "  }",
        "}",
    ]
    return "\n".join(lines)


def step_bars(
    values: np.ndarray,
    *,
    axis_title: str,
    color: str = "#80868b",
    highlight: dict[int, str] | None = None,
    value_range: tuple[float, float] | None = None,
    height: int = 170,
) -> go.Figure:
    """One bar per channel (or hidden unit) of one step of the SE block.

    ``highlight``: {index: colour} for bars to colour differently (most and least kept).
    """
    values = np.asarray(values, dtype=float)
    colours = [color] * len(values)
    for index, colour in (highlight or {}).items():
        colours[index] = colour
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(values)),
            y=values,
            marker_color=colours,
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 10, "t": 10, "b": 35},
        bargap=0.15,
        xaxis={"title": axis_title, "tickmode": "auto"},
        yaxis={"range": list(value_range) if value_range else None, "zeroline": True},
        showlegend=False,
    )
    return fig


def class_mean_bars(
    means: np.ndarray, classes: Sequence[str], *, channel: int, highlight: int, height: int = 170
) -> go.Figure:
    """One channel's mean excitation s for each class (test set), bars in 0..1.

    ``highlight``: the class to colour (the one the model reads for this input).
    """
    colours = [_CLASS_BAR] * len(classes)
    colours[highlight] = SUPPRESSED_COLOR
    fig = go.Figure(
        go.Bar(
            x=list(classes),
            y=np.asarray(means, dtype=float),
            marker_color=colours,
            hovertemplate="%{x}: mean s %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 10, "t": 10, "b": 35},
        bargap=0.15,
        xaxis={"title": f"class: mean s of channel {channel} on the test set", "type": "category"},
        yaxis={"range": [0, 1]},
        showlegend=False,
    )
    return fig


def _grid(channels: int) -> tuple[int, int]:
    columns = 4 if channels <= 16 else 8
    return math.ceil(channels / columns), columns


def _map_origin(c: int, *, columns: int, h: int, w: int, gap: int) -> tuple[int, int]:
    """(top, left) of channel ``c``'s map (h, w) in a montage: ``gap`` rows above each map
    for its number, one column between maps."""
    return (c // columns) * (h + gap) + gap, (c % columns) * (w + 1)


def _tiled(maps: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """The maps (C, H, W) tiled on one canvas (NaN between them, drawn as background),
    and the channel at each pixel of it (-1 between)."""
    channels, h, w = maps.shape
    rows, columns = _grid(channels)
    canvas = np.full((rows * (h + gap), columns * (w + 1) - 1), np.nan)
    channel_at = np.full(canvas.shape, -1)
    for c in range(channels):
        top, left = _map_origin(c, columns=columns, h=h, w=w, gap=gap)
        canvas[top : top + h, left : left + w] = maps[c]
        channel_at[top : top + h, left : left + w] = c
    return canvas, channel_at


def channel_montage(
    maps: np.ndarray,
    *,
    zmax: float,
    highlight: dict[int, str] | None = None,
    height: int = 300,
) -> go.Figure:
    """C feature maps (C, H, W) as one grid image, on one colour scale from 0 to ``zmax``,
    each map with its channel number above it.

    ``highlight``: {channel: colour} draws a frame around those channels.
    """
    maps = np.asarray(maps, dtype=float)
    channels, h, w = maps.shape
    gap = max(4, round(0.5 * h))  # room above each map for its number
    origin = partial(_map_origin, columns=_grid(channels)[1], h=h, w=w, gap=gap)
    canvas, channel_at = _tiled(maps, gap)
    fig = go.Figure(
        go.Heatmap(
            z=canvas,
            zmin=0.0,
            zmax=max(float(zmax), 1e-6),
            colorscale="gray",
            customdata=channel_at,
            colorbar={
                "thickness": 10,
                "len": 0.9,
                "title": {"text": "activation", "side": "right"},
            },
            hovertemplate="channel %{customdata}<br>activation %{z:.2f}<extra></extra>",
            hoverongaps=False,
        )
    )
    for c in range(channels):
        top, left = origin(c)
        fig.add_annotation(
            x=left + (w - 1) / 2, y=top - 0.5, text=str(c), showarrow=False, yanchor="bottom",
            font={"size": 10, "color": "#3c4043"}, borderpad=0,
        )  # fmt: skip
    for c, colour in (highlight or {}).items():
        top, left = origin(c)
        fig.add_shape(
            type="rect",
            x0=left - 0.5,
            x1=left + w - 0.5,
            y0=top - 0.5,
            y1=top + h - 0.5,
            line={"color": colour, "width": 3},
        )
    fig.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="#ffffff",
        xaxis={"visible": False, "constrain": "domain"},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"},
    )
    return fig
