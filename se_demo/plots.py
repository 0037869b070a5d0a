"""Plotly figure builders: data in, figure out. No streamlit, no model code."""

from __future__ import annotations

from typing import Any

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
    # Built as one dict: make_subplots and per-row updates cost ~40 ms of CPU per figure
    # (plotly validates every step), which the Draw page paid on every drawing.
    blocks = list(excitations)
    spacing = 0.12 if len(blocks) > 1 else 0.0
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
             "name": "this input", "marker": {"color": MODEL_COLORS["senet"]},
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
        height=height_per_block * len(blocks) + 80,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        bargap=0.1,
        legend={"orientation": "h", "y": -0.08 if len(blocks) > 1 else -0.3},
    )
    return go.Figure({"data": data, "layout": layout})


def probability_bars(
    probabilities: dict[str, np.ndarray],
    titles: dict[str, str] | None = None,
    threshold: float | None = None,
) -> go.Figure:
    """Each model's probabilities over the ten digits (10,), side by side in one bar chart.

    ``threshold``, when given, is drawn as a dashed line (the "unsure" level).
    """
    titles = titles or {}
    data = [
        {"type": "bar", "x": list(range(len(values))), "y": np.asarray(values, dtype=float),
         "name": titles.get(name, name), "marker": {"color": MODEL_COLORS.get(name)},
         "hovertemplate": "digit %{x}<br>probability %{y:.3f}<extra></extra>"}
        for name, values in probabilities.items()
    ]  # fmt: skip
    layout: dict[str, Any] = {
        "barmode": "group",
        "height": 280,
        "margin": {"l": 40, "r": 10, "t": 20, "b": 30},
        "xaxis": {"title": {"text": "digit"}, "tickmode": "linear", "dtick": 1},
        "yaxis": {"title": {"text": "probability"}, "range": [0, 1]},
        "legend": {"orientation": "h", "y": 1.12},
    }
    if threshold is not None:  # what fig.add_hline makes, without its ~15 ms of validation
        layout["shapes"] = [
            {"type": "line", "line": {"color": "grey", "dash": "dash"}, "xref": "x domain",
             "x0": 0, "x1": 1, "yref": "y", "y0": threshold, "y1": threshold}
        ]  # fmt: skip
        layout["annotations"] = [
            {"text": "unsure below", "showarrow": False, "xref": "x domain", "x": 0,
             "xanchor": "left", "yref": "y", "y": threshold, "yanchor": "bottom"}
        ]  # fmt: skip
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


def training_curves(curve: list[dict[str, Any]]) -> go.Figure:
    """Live training loss and accuracy against step, one colour per model.

    ``curve``: points with keys model, step, loss, accuracy (running means over the epoch).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "training accuracy"))
    for name in dict.fromkeys(point["model"] for point in curve):
        points = [p for p in curve if p["model"] == name]
        steps = [p["step"] for p in points]
        color = MODEL_COLORS.get(name)
        for col, key in ((1, "loss"), (2, "accuracy")):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=[p[key] for p in points],
                    mode="lines",
                    name=name,
                    line={"color": color},
                    showlegend=col == 1,
                    legendgroup=name,
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


def seed_comparison(record: dict[str, Any]) -> go.Figure:
    """Paired test accuracies over seeds: one line per seed from CNN to SENet."""
    fig = go.Figure()
    runs = record["runs"]
    for cnn, senet in zip(runs["cnn"], runs["senet"], strict=True):
        better = senet["accuracy"] > cnn["accuracy"]
        fig.add_trace(
            go.Scatter(
                x=["Basic CNN", "SENet"],
                y=[cnn["accuracy"], senet["accuracy"]],
                mode="lines+markers",
                name=f"seed {cnn['seed']}",
                line={"color": MODEL_COLORS["senet"] if better else MODEL_COLORS["cnn"]},
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
                MODEL_COLORS["cnn"] if row["group"] == "baseline" else MODEL_COLORS["senet"]
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
    titles: dict[str, str] | None = None,
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
    titles: dict[str, str] | None = None,
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


# --- SE excitation explorer: class view, depth profile, recalibration ---------------------


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
            line={"color": MODEL_COLORS["senet"]},
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


def depth_profile(stats: list[dict[str, Any]]) -> go.Figure:
    """Class-specificity, spread and saturation of each SE block, in depth order.

    ``stats``: one dict per block with keys block, channels, specificity, between_std,
    within_std, saturated, suppressed (see `se_demo.excitation.BlockStatistics`).
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
            marker_color=MODEL_COLORS["senet"],
            name="class-specificity (eta squared)",
            hovertemplate="%{x}<br>explained by class %{y:.1%}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for key, label, colour in (
        ("between_std", "between classes", MODEL_COLORS["senet"]),
        ("within_std", "within a class", "grey"),
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[s[key] for s in stats],
                marker_color=colour,
                name=f"std {label}",
                hovertemplate="%{x}<br>std " + label + " %{y:.4f}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    for key, label, colour in (
        ("saturated", "share above 0.9", "#00CC96"),
        ("suppressed", "share below 0.1", "#AB63FA"),
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[s[key] for s in stats],
                marker_color=colour,
                name=label,
                hovertemplate="%{x}<br>" + label + " %{y:.1%}<extra></extra>",
            ),
            row=1,
            col=3,
        )
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=1, col=3)
    fig.update_layout(
        barmode="group",
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


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
            f"ch {c}: e = {float(e):.2f}" for c, e in zip(channels, excitation, strict=True)
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
    fig.update_layout(
        title=title, height=300, margin={"l": 40, "r": 10, "t": 60, "b": 10}, showlegend=False
    )
    return fig
