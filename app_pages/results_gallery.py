"""The Results page's gallery: the test images of one confusion cell, or those on which the
two models differ, each with both predictions. Not a page: `app_pages/results.py` uses it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.resources import data_dir_label, load_test_images
from se_demo.analysis.results import (
    IMAGE_SETS,
    Evaluation,
    comparison_indices,
    confusion_cell_indices,
    most_confused_cell,
    prediction_lines,
)
from se_demo.core.datafiles import split_checksum
from se_demo.core.registry import MODEL_TITLES, DatasetInfo
from se_demo.figures.common import PIXEL_SCALE, pixels_png

GALLERY_LIMIT = 48  # images shown at once; a diagonal cell holds about a thousand
GALLERY_COLUMNS = 8
GALLERIES = {"cell": "of a confusion cell", "compare": "where the models differ"}
CELL_KEYS = ("results_cell_model", "results_cell_true", "results_cell_predicted")


def _show_images(
    indices: np.ndarray, images: np.ndarray, evaluation: Evaluation, dataset: DatasetInfo
) -> None:
    """A grid of upsampled test images, each with both models' predictions."""
    if len(indices) == 0:
        st.write("No test images here.")
        return
    for start in range(0, min(len(indices), GALLERY_LIMIT), GALLERY_COLUMNS):
        row = indices[start : min(start + GALLERY_COLUMNS, GALLERY_LIMIT)]
        for column, index in zip(st.columns(GALLERY_COLUMNS), row, strict=False):
            true_class = dataset.class_names[int(evaluation.labels[index])]
            column.image(
                pixels_png(images[index]), width=28 * PIXEL_SCALE,
                alt=f"{dataset.title} test image {int(index)}, true class {true_class}",
            )  # fmt: skip
            lines = prediction_lines(evaluation, int(index), dataset.class_names)
            column.caption("  \n".join(lines))


def _count_line(count: int, what: str) -> str:
    shown = f"; showing the first {GALLERY_LIMIT}" if count > GALLERY_LIMIT else ""
    return f"**{count} test {'image' if count == 1 else 'images'}** {what}{shown}."


def _test_images(evaluation: Evaluation, dataset: DatasetInfo) -> np.ndarray | None:
    """The test images (N, 28, 28) when they are on disk and the ones the models were
    evaluated on; otherwise None, and the page says why."""
    test_data = load_test_images(dataset.key)
    if test_data is not None and split_checksum(*test_data) != evaluation.record["data_sha256"]:
        st.warning(
            f"The {dataset.title} test set under {data_dir_label()} is not the one these models "
            "were evaluated on (its checksum differs), so its images are not shown beside "
            "their predictions."
        )
        return None
    if test_data is None:
        st.warning(
            f"The {dataset.title} test images are not on disk (looked under {data_dir_label()}), "
            "so they cannot be shown here. Everything else on this page comes from the saved "
            f"evaluation. Set SE_DEMO_DATA to a folder holding {dataset.folder}/raw to browse them."
        )
        return None
    return test_data[0]


def show_mistakes(evaluation: Evaluation, dataset: DatasetInfo, first: str, second: str) -> None:
    """The gallery, when the test images on disk are the ones the models were evaluated on."""
    st.subheader("Look at the mistakes")
    test_images = _test_images(evaluation, dataset)
    if test_images is None:
        return
    for key in CELL_KEYS:  # keep the chosen cell while its selectors are not drawn
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    # One gallery at a time (not two tabs, which would both be drawn on every load). Its
    # default comes through the session state, which a clicked cell also writes: a
    # widget given both logs Streamlit's "set via the Session State API" warning.
    st.session_state.setdefault("results_gallery", "cell")
    gallery = st.segmented_control(
        "Show the test images",
        list(GALLERIES),
        format_func=GALLERIES.__getitem__,
        required=True,
        key="results_gallery",
    )
    if gallery == "cell":
        _cell_gallery(test_images, evaluation, dataset, first, second)
    else:
        _comparison_gallery(test_images, evaluation, dataset, first, second)


def _cell_gallery(
    test_images: np.ndarray, evaluation: Evaluation, dataset: DatasetInfo, first: str, second: str
) -> None:
    """The images of one confusion cell, the most confused one until the reader picks."""
    class_names = list(dataset.class_names)
    confusion = np.asarray(evaluation.metrics(first)["confusion"])
    default_true, default_predicted = most_confused_cell(confusion)
    st.session_state.setdefault("results_cell_model", first)
    st.session_state.setdefault("results_cell_true", default_true)
    st.session_state.setdefault("results_cell_predicted", default_predicted)
    pickers = st.columns(3)
    model = pickers[0].selectbox(
        "Confusion matrix of",
        (first, second),
        format_func=MODEL_TITLES.__getitem__,
        key="results_cell_model",
    )
    true_class = pickers[1].selectbox(
        "True class",
        range(len(class_names)),
        format_func=class_names.__getitem__,
        key="results_cell_true",
    )
    predicted_class = pickers[2].selectbox(
        "Predicted class",
        range(len(class_names)),
        format_func=class_names.__getitem__,
        key="results_cell_predicted",
    )
    indices = confusion_cell_indices(
        evaluation.labels, evaluation.predictions(model), true_class, predicted_class
    )
    st.markdown(
        _count_line(
            len(indices),
            f"of true class {class_names[true_class]} that {MODEL_TITLES[model]} "
            f"predicts as {class_names[predicted_class]}",
        )
    )
    _show_images(indices, test_images, evaluation, dataset)


def _comparison_gallery(
    test_images: np.ndarray, evaluation: Evaluation, dataset: DatasetInfo, first: str, second: str
) -> None:
    """The images on which the two models differ, in the way the reader picks."""
    set_labels = {
        "disagree": "the two models predict different classes",
        "only_first_correct": f"only {MODEL_TITLES[first]} is right",
        "only_second_correct": f"only {MODEL_TITLES[second]} is right",
    }
    which = st.radio(
        "Images where",
        IMAGE_SETS,
        format_func=set_labels.__getitem__,
        horizontal=True,
        key="results_image_set",
    )
    indices = comparison_indices(evaluation, which, first, second)
    st.markdown(_count_line(len(indices), f"where {set_labels[which]}"))
    _show_images(indices, test_images, evaluation, dataset)
