"""Confusion matrices as figures (the Results page): both models' heatmaps side by side on one
scale, clickable, and their cell-by-cell difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from se_demo.analysis.results import normalize_confusion

_VIEW_UNITS = {"counts": "images", "recall": "of true class", "precision": "of predicted class"}
_MUTED_GREY = "#e3e3e3"


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
    """Class names on both axes, the true classes only left of the first subplot (the rows
    are the same in all; long names such as Fashion-MNIST's "Ankle boot" would otherwise
    run into the matrix beside them); square cells, true class 0 at the top.
    """
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
            showticklabels=col == 1,
            ticks=None if col == 1 else "",
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


def _matrix_trace(z: np.ndarray, labels: list[list[str]], name: str, title: str) -> go.Heatmap:
    """One model's matrix on the figure's shared colour axis; ``meta`` is the model name."""
    classes = np.arange(len(z))
    return go.Heatmap(
        z=z,
        x=classes,
        y=classes,
        text=labels,
        texttemplate="%{text}",
        textfont={"size": 11},
        coloraxis="coloraxis",
        hoverinfo="skip",
        hoverongaps=False,
        name=title,
        meta=name,
    )


def _cell_markers(counts: np.ndarray, class_names: list[str], name: str, title: str) -> go.Scatter:
    """An invisible square marker over every cell: the hover text (true, predicted, count,
    row and column shares) and the click target, as heatmaps send no selection events."""
    classes = np.arange(len(counts))
    true_grid, predicted_grid = np.meshgrid(classes, classes, indexing="ij")
    names = np.array(class_names, dtype=object)
    customdata = np.stack(
        [
            names[true_grid],
            names[predicted_grid],
            counts,
            normalize_confusion(counts, "recall") * 100,
            normalize_confusion(counts, "precision") * 100,
        ],
        axis=-1,
    ).reshape(-1, 5)
    return go.Scatter(
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
            f"<extra>{title}</extra>"
        ),
        showlegend=False,
        meta=name,
    )


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
    and makes cells clickable; its ``meta`` is the model name (read back by
    `app_pages.results_confusion.selected_cell`).
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
    for col, name in enumerate(names, start=1):
        title = titles.get(name, name)
        labels = _cell_labels(values[name], view)
        fig.add_trace(_matrix_trace(shown[name], labels, name, title), row=1, col=col)
        if mute_diagonal:
            fig.add_trace(_diagonal_trace(values[name], labels, classes), row=1, col=col)
        fig.add_trace(_cell_markers(counts[name], class_names, name, title), row=1, col=col)
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


def _difference_trace(
    a: np.ndarray,
    b: np.ndarray,
    shown: np.ndarray,
    labels: list[list[str]],
    class_names: list[str],
    view: str,
) -> go.Heatmap:
    """``shown`` (b - a, muted or not) on a diverging scale centred on zero; the hover
    gives both values and their difference."""
    finite = shown[np.isfinite(shown)]
    limit = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    scale = 1.0 if view == "counts" else 100.0
    unit = "images" if view == "counts" else "percentage points"
    names = np.array(class_names, dtype=object)
    classes = np.arange(len(a))
    true_grid, predicted_grid = np.meshgrid(classes, classes, indexing="ij")
    customdata = np.stack(
        [names[true_grid], names[predicted_grid], a * scale, b * scale, (b - a) * scale],
        axis=-1,
    )
    number = ".0f" if view == "counts" else ".2f"
    return go.Heatmap(
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
    labels = _cell_labels(difference, view, signed=True)
    fig = make_subplots(rows=1, cols=1, subplot_titles=[title])
    fig.add_trace(
        _difference_trace(a, b, _muted(difference, mute_diagonal), labels, class_names, view)
    )
    if mute_diagonal:
        fig.add_trace(_diagonal_trace(difference, labels, classes))
    _class_axes(fig, class_names, 1)
    fig.update_layout(
        height=height, margin={"l": 50, "r": 10, "t": 40, "b": 40}, plot_bgcolor="white"
    )
    return fig
