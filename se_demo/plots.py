"""Plotly figure builders: data in, figure out. No streamlit, no model code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.registry import MODEL_COLORS, ModelKind


def block_title(block: str, channels: int) -> str:
    """'stages.1.se' with 32 channels -> 'SE block 2 (32 channels)'."""
    index = int(block.split(".")[1]) + 1 if block.startswith("stages.") else block
    return f"SE block {index} ({channels} channels)"


STACK_GAP_PX = 70  # between stacked charts: the upper one's tick labels, the next title


def excitation_bars(
    excitations: dict[str, np.ndarray],
    reference: dict[str, np.ndarray] | None = None,
    reference_label: str = "class mean",
    height_per_block: int = 150,
    label: str = "this input",
) -> go.Figure:
    """One bar chart per SE block of one input's channel excitations (C,), stacked by depth.

    ``reference`` (same keys and shapes), when given, is drawn over the bars as markers,
    for example the test-set mean excitation of the predicted class. ``label`` names the
    bars in the legend. Panels are `STACK_GAP_PX` apart, room for the upper one's tick
    labels and the next one's title.
    """
    # Built as one dict: make_subplots and per-row updates cost ~40 ms of CPU per figure
    # (plotly validates every step), which the Draw page paid on every drawing.
    blocks = list(excitations)
    plot_height = height_per_block * len(blocks) + STACK_GAP_PX * (len(blocks) - 1)
    spacing = STACK_GAP_PX / plot_height if len(blocks) > 1 else 0.0
    height = (1 - spacing * (len(blocks) - 1)) / len(blocks)  # of each block's panel
    layout: dict[str, Any] = {"annotations": []}
    data: list[dict[str, Any]] = []
    for row, block in enumerate(blocks, start=1):
        top = 1 - (row - 1) * (height + spacing)
        suffix = "" if row == 1 else str(row)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        if row == len(blocks):
            layout[f"xaxis{suffix}"]["title"] = {"text": "channel"}
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [max(top - height, 0.0), top],
            "title": {"text": "excitation"},
        }
        layout["annotations"].append(
            {"text": block_title(block, len(excitations[block])), "font": {"size": 16},
             "showarrow": False, "x": 0.5, "xanchor": "center", "xref": "paper",
             "y": top, "yanchor": "bottom", "yref": "paper"}
        )  # fmt: skip
        channels = np.arange(len(excitations[block]))
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "showlegend": row == 1}
        data.append(
            {"type": "bar", "x": channels, "y": np.asarray(excitations[block], dtype=float),
             "name": label, "marker": {"color": MODEL_COLORS[ModelKind.SENET]},
             "hovertemplate": "channel %{x}<br>excitation %{y:.3f}<extra></extra>", **axes}
        )  # fmt: skip
        if reference is not None and block in reference:
            data.append(
                {"type": "scatter", "x": channels,
                 "y": np.asarray(reference[block], dtype=float), "mode": "markers",
                 "name": reference_label,
                 "marker": {"color": "black", "symbol": "line-ew-open", "size": 10},
                 "hovertemplate": "channel %{x}<br>" + reference_label + " %{y:.3f}<extra></extra>",
                 **axes}
            )  # fmt: skip
    layout.update(
        height=plot_height + 120,
        margin={"l": 40, "r": 10, "t": 40, "b": 80},
        bargap=0.1,
        legend={"orientation": "h", "yanchor": "top", "y": -60 / plot_height},
    )
    return go.Figure({"data": data, "layout": layout})


def probability_bars(
    probabilities: dict[str, np.ndarray],
    titles: Mapping[str, str] | None = None,
    threshold: float | None = None,
    class_names: list[str] | None = None,
) -> go.Figure:
    """Each model's probabilities over the classes (K,), side by side in one bar chart.

    ``class_names`` label the x axis (digits 0-9 when None, and the axis is "digit").
    ``threshold``, when given, is drawn as a dashed line named in the legend, so its label
    never sits on the bars. Built as one dict, like `excitation_bars`.
    """
    titles = titles or {}
    size = len(next(iter(probabilities.values()))) if probabilities else 10
    names = class_names or [str(c) for c in range(size)]
    axis = "digit" if class_names is None else "class"
    data: list[dict[str, Any]] = [
        {"type": "bar", "x": names, "y": np.asarray(values, dtype=float),
         "name": titles.get(name, name), "marker": {"color": MODEL_COLORS.get(name)},
         "hovertemplate": axis + " %{x}<br>probability %{y:.3f}<extra></extra>"}
        for name, values in probabilities.items()
    ]  # fmt: skip
    if threshold is not None:
        data.append(
            {"type": "scatter", "x": [names[0], names[-1]], "y": [threshold, threshold],
             "mode": "lines", "line": {"color": "grey", "dash": "dash"},
             "name": f"unsure below {100 * threshold:.0f} %", "hoverinfo": "skip"}
        )  # fmt: skip
    layout = {
        "barmode": "group",
        "height": 300,
        "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
        "xaxis": {"title": {"text": axis}, "type": "category"},
        "yaxis": {"title": {"text": "probability"}, "range": [0, 1]},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02},
    }
    return go.Figure({"data": data, "layout": layout})


def digit_pixels(image: np.ndarray, height: int = 280) -> go.Figure:
    """A small greyscale image (H, W) in [0, 1], enlarged with a gap between its pixels."""
    values = np.asarray(image, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            zmin=0.0,
            zmax=1.0,
            colorscale="gray",
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="row %{y}, column %{x}<br>ink %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        width=height,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="#404040",
        xaxis={"visible": False, "constrain": "domain"},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"},
    )
    return fig


# --- Training lab: live curves, multi-seed comparison, ablations -------------------------


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


# Results page: confusion heatmaps and per-class bars ------------------------------------

CONFUSION_VIEWS: dict[str, str] = {
    "counts": "Counts",
    "recall": "Row-normalised (recall)",
    "precision": "Column-normalised (precision)",
}
_VIEW_UNITS = {"counts": "images", "recall": "of true class", "precision": "of predicted class"}
_MUTED_GREY = "#e3e3e3"


def normalize_confusion(confusion: np.ndarray, view: str) -> np.ndarray:
    """A confusion matrix (rows: true class, columns: predicted) in one of `CONFUSION_VIEWS`.

    ``"counts"`` keeps the counts; ``"recall"`` divides each row by its true-class total
    (the diagonal is then the per-class recall); ``"precision"`` divides each column by
    its predicted-class total (diagonal: precision). Empty rows or columns give zeros.
    """
    counts = np.asarray(confusion, dtype=float)
    if view == "counts":
        return counts
    if view not in CONFUSION_VIEWS:
        raise ValueError(
            f"unknown confusion view {view!r}; expected one of {tuple(CONFUSION_VIEWS)}"
        )
    totals = counts.sum(axis=1 if view == "recall" else 0, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _cell_labels(values: np.ndarray, view: str, signed: bool = False) -> list[list[str]]:
    """Cell text: counts, or percentages for the normalised views; empty where zero."""
    sign = "+" if signed else ""
    spec = f"{sign}.0f" if view == "counts" else f"{sign}.1f"
    scale = 1.0 if view == "counts" else 100.0
    return [[format(v * scale, spec) if v != 0 else "" for v in row] for row in values]


def _muted(values: np.ndarray, mute_diagonal: bool) -> np.ndarray:
    """The values with the diagonal blanked (NaN) when muting, so errors set the colour scale."""
    z = np.array(values, dtype=float)
    if mute_diagonal:
        np.fill_diagonal(z, np.nan)
    return z


def _diagonal_trace(values: np.ndarray, labels: list[list[str]], classes: np.ndarray) -> go.Heatmap:
    """The muted diagonal: grey cells that keep their numbers but take no part in the scale."""
    z = np.full(values.shape, np.nan)
    np.fill_diagonal(z, 0.0)
    diagonal_labels = [[labels[i][j] if i == j else "" for j in classes] for i in classes]
    return go.Heatmap(
        z=z,
        x=classes,
        y=classes,
        text=diagonal_labels,
        texttemplate="%{text}",
        textfont={"size": 11},
        colorscale=[[0, _MUTED_GREY], [1, _MUTED_GREY]],
        showscale=False,
        hoverinfo="skip",
        hoverongaps=False,
    )


def _class_axes(fig: go.Figure, class_names: list[str], cols: int) -> None:
    """Class names on both axes of every subplot; square cells, true class 0 at the top."""
    k = len(class_names)
    axis = {
        "tickmode": "array",
        "tickvals": list(range(k)),
        "ticktext": class_names,
        "showgrid": False,
        "zeroline": False,
        "constrain": "domain",
    }
    for col in range(1, cols + 1):
        fig.update_xaxes(
            title_text="predicted class", range=[-0.5, k - 0.5], row=1, col=col, **axis
        )
        fig.update_yaxes(
            title_text="true class" if col == 1 else None,
            range=[k - 0.5, -0.5],
            scaleanchor="x" if col == 1 else f"x{col}",
            row=1,
            col=col,
            **axis,
        )


def _colorbar_ticks(view: str, largest: float, signed: bool = False) -> dict[str, Any]:
    """Whole-number ticks for small counts, percentages for the normalised views."""
    sign = "+" if signed else ""
    if view != "counts":
        return {"tickformat": f"{sign}.1%"}
    ticks = {"tickformat": f"{sign}d"}
    return {**ticks, "dtick": 1} if largest <= 10 else ticks


def confusion_heatmaps(
    confusions: dict[str, np.ndarray],
    *,
    view: str = "counts",
    mute_diagonal: bool = False,
    titles: Mapping[str, str] | None = None,
    class_names: list[str] | None = None,
    height: int = 440,
) -> go.Figure:
    """Confusion heatmaps of several models side by side, on one shared colour scale.

    ``confusions`` maps a model name to its (K, K) count matrix (rows: true class).
    Heatmap ``z`` is `normalize_confusion` of the counts, with the diagonal blanked and
    drawn in grey when ``mute_diagonal``. Plotly heatmaps send no selection events
    (streamlit issue 8760), so each heatmap is overlaid by an invisible square marker per
    cell: it carries the hover text (true, predicted, count, row and column percentages)
    and makes cells clickable; its ``meta`` is the model name (see `selected_cell`).
    """
    names = list(confusions)
    titles = titles or {}
    counts = {name: np.asarray(confusions[name], dtype=float) for name in names}
    classes = np.arange(len(next(iter(counts.values()))))
    class_names = class_names or [str(c) for c in classes]
    values = {name: normalize_confusion(counts[name], view) for name in names}
    shown = {name: _muted(values[name], mute_diagonal) for name in names}
    finite = [z[np.isfinite(z)] for z in shown.values()]
    zmax = max((float(f.max()) for f in finite if f.size), default=0.0) or 1.0

    fig = make_subplots(
        rows=1,
        cols=len(names),
        subplot_titles=[titles.get(name, name) for name in names],
        horizontal_spacing=0.08,
    )
    true_grid, predicted_grid = np.meshgrid(classes, classes, indexing="ij")
    for col, name in enumerate(names, start=1):
        labels = _cell_labels(values[name], view)
        fig.add_trace(
            go.Heatmap(
                z=shown[name],
                x=classes,
                y=classes,
                text=labels,
                texttemplate="%{text}",
                textfont={"size": 11},
                coloraxis="coloraxis",
                hoverinfo="skip",
                hoverongaps=False,
                name=titles.get(name, name),
                meta=name,
            ),
            row=1,
            col=col,
        )
        if mute_diagonal:
            fig.add_trace(_diagonal_trace(values[name], labels, classes), row=1, col=col)
        c = counts[name]
        row_share = normalize_confusion(c, "recall") * 100
        column_share = normalize_confusion(c, "precision") * 100
        customdata = np.stack(
            [
                np.array(class_names, dtype=object)[true_grid],
                np.array(class_names, dtype=object)[predicted_grid],
                c,
                row_share,
                column_share,
            ],
            axis=-1,
        ).reshape(-1, 5)
        fig.add_trace(
            go.Scatter(
                x=predicted_grid.ravel(),
                y=true_grid.ravel(),
                mode="markers",
                marker={"symbol": "square", "size": 26, "color": "black", "opacity": 0},
                selected={"marker": {"opacity": 0.3}},
                unselected={"marker": {"opacity": 0}},
                customdata=customdata,
                hovertemplate=(
                    "true %{customdata[0]}, predicted %{customdata[1]}<br>"
                    "%{customdata[2]:.0f} images<br>"
                    "%{customdata[3]:.2f}% of true %{customdata[0]}<br>"
                    "%{customdata[4]:.2f}% of predicted %{customdata[1]}"
                    f"<extra>{titles.get(name, name)}</extra>"
                ),
                showlegend=False,
                meta=name,
            ),
            row=1,
            col=col,
        )
    _class_axes(fig, class_names, len(names))
    fig.update_layout(
        coloraxis={
            "colorscale": "Blues",
            "cmin": 0.0,
            "cmax": zmax,
            "colorbar": {"title": {"text": _VIEW_UNITS[view]}, **_colorbar_ticks(view, zmax)},
        },
        height=height,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        plot_bgcolor="white",
        clickmode="event+select",
        dragmode=False,
    )
    return fig


def selected_cell(figure: go.Figure, points: list[dict]) -> tuple[str, int, int] | None:
    """(model name, true class, predicted class) of the last clicked cell, or None.

    ``points`` is the ``selection["points"]`` list of a streamlit plotly event on a
    figure from `confusion_heatmaps`.
    """
    for point in reversed(points):
        trace = figure.data[point["curve_number"]]
        if isinstance(trace, go.Scatter) and trace.meta is not None:
            return str(trace.meta), int(point["y"]), int(point["x"])
    return None


def confusion_difference_heatmap(
    first: np.ndarray,
    second: np.ndarray,
    *,
    view: str = "counts",
    mute_diagonal: bool = False,
    title: str = "second - first",
    class_names: list[str] | None = None,
    height: int = 440,
) -> go.Figure:
    """The cell-by-cell difference ``second - first`` of two confusion matrices in ``view``.

    Diverging scale centred on zero (red: ``second`` puts more images in the cell); in
    the normalised views the difference is in percentage points.
    """
    a = normalize_confusion(first, view)
    b = normalize_confusion(second, view)
    difference = b - a
    classes = np.arange(len(difference))
    class_names = class_names or [str(c) for c in classes]
    shown = _muted(difference, mute_diagonal)
    finite = shown[np.isfinite(shown)]
    limit = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    labels = _cell_labels(difference, view, signed=True)
    scale = 1.0 if view == "counts" else 100.0
    unit = "images" if view == "counts" else "percentage points"
    names = np.array(class_names, dtype=object)
    true_grid, predicted_grid = np.meshgrid(classes, classes, indexing="ij")
    customdata = np.stack(
        [names[true_grid], names[predicted_grid], a * scale, b * scale, difference * scale],
        axis=-1,
    )
    number = ".0f" if view == "counts" else ".2f"
    fig = make_subplots(rows=1, cols=1, subplot_titles=[title])
    fig.add_trace(
        go.Heatmap(
            z=shown,
            x=classes,
            y=classes,
            text=labels,
            texttemplate="%{text}",
            textfont={"size": 11},
            customdata=customdata,
            colorscale="RdBu_r",
            zmid=0.0,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": {"text": unit}, **_colorbar_ticks(view, limit, signed=True)},
            hoverongaps=False,
            hovertemplate=(
                "true %{customdata[0]}, predicted %{customdata[1]}<br>"
                f"first %{{customdata[2]:{number}}}, second %{{customdata[3]:{number}}}<br>"
                f"difference %{{customdata[4]:+{number}}} {unit}<extra></extra>"
            ),
        )
    )
    if mute_diagonal:
        fig.add_trace(_diagonal_trace(difference, labels, classes))
    _class_axes(fig, class_names, 1)
    fig.update_layout(
        height=height, margin={"l": 50, "r": 10, "t": 40, "b": 40}, plot_bgcolor="white"
    )
    return fig


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
