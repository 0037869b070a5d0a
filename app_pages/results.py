"""Results: which model is better, where do they go wrong, and is the difference real?

Everything comes from the saved evaluation (`load_results()`); no model runs here. Only
the test images themselves need the dataset on disk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.resources import (
    active_dataset,
    active_model_dir,
    data_dir_label,
    link_to_seeds_page,
    load_records,
    load_results,
    load_test_images,
)
from se_demo.checkpoints import CheckpointError
from se_demo.config import CHECKPOINT_DIR
from se_demo.datafiles import split_checksum
from se_demo.plots import (
    CONFUSION_VIEWS,
    confusion_difference_heatmap,
    confusion_heatmaps,
    per_class_bars,
    selected_cell,
)
from se_demo.registry import MODEL_TITLES, DatasetName, ModelKind, dataset_info
from se_demo.results import (
    IMAGE_SETS,
    comparison_indices,
    comparison_rows,
    confusion_cell_indices,
    cost_rows,
    evaluation_mcnemar,
    most_confused_cell,
    prediction_lines,
)
from se_demo.verdicts import compare_verdict
from se_demo.words import explain, percent

FIRST: str = ModelKind.CNN
SECOND: str = ModelKind.SENET
GALLERY_LIMIT = 48  # images shown at once; a diagonal cell holds about a thousand
GALLERY_COLUMNS = 8
GALLERIES = {"cell": "of a confusion cell", "compare": "where the models differ"}
CELL_KEYS = ("results_cell_model", "results_cell_true", "results_cell_predicted")
PIXEL_SCALE = 4  # 28 px -> 112 px, nearest neighbour, so pixels stay crisp
METRIC_LABELS = {
    "accuracy": "accuracy",
    "precision": "macro precision",
    "recall": "macro recall",
    "f1": "macro F1",
}

dataset = dataset_info(active_dataset())
class_names = list(dataset.class_names)
model_dir = active_model_dir()
shipped = model_dir == CHECKPOINT_DIR / dataset.key
st.title(f"Results: basic CNN versus SENet on {dataset.title}")
try:
    evaluation = load_results(model_dir)
except CheckpointError as error:
    st.error(
        f"No saved evaluation to show for {dataset.title}: {error}. Create it with "
        f"`python -m se_demo evaluate --dataset {dataset.key}`."
    )
    st.stop()
# A chosen confusion cell belongs to the evaluation it was chosen in: after switching the
# dataset or the run, start again from that evaluation's most confused cell.
if st.session_state.get("results_cell_of") != str(model_dir):
    for key in CELL_KEYS:
        st.session_state.pop(key, None)
    st.session_state["results_cell_of"] = str(model_dir)
metrics = {name: evaluation.metrics(name) for name in (FIRST, SECOND)}
first_title, second_title = MODEL_TITLES[FIRST], MODEL_TITLES[SECOND]
DIFFERENCE = f"{second_title} − {first_title} (ours)"
mcnemar = evaluation_mcnemar(evaluation, FIRST, SECOND)
verdict = compare_verdict(
    load_records(model_dir),
    {name: metrics[name]["accuracy"] for name in (FIRST, SECOND)},
    dataset.key,
    mcnemar,
    FIRST,
    SECOND,
)

models_source = "The shipped checkpoints" if shipped else f"The models of the run {model_dir.name}"
st.caption(
    f"{models_source} on all {evaluation.record['test_images']:,} {dataset.title} test images, "
    "read from their saved evaluation; nothing is recomputed here."
)
for name, note in verdict.undertrained.items():
    st.badge(f"{MODEL_TITLES[name]}: undertrained", icon=":material/warning:", color="orange")
    st.caption(note)

first_accuracy, second_accuracy = (metrics[name]["accuracy"] for name in (FIRST, SECOND))
headline = st.columns(3)
headline[0].metric(f"{first_title} accuracy", percent(first_accuracy, 2), border=True)
headline[1].metric(
    f"{second_title} accuracy",
    percent(second_accuracy, 2),
    delta=f"{(second_accuracy - first_accuracy) * 100:+.2f} pp",
    help=explain("pp"),
    delta_color="off" if second_accuracy == first_accuracy else "normal",
    delta_arrow="off" if second_accuracy == first_accuracy else "auto",
    delta_description=f"vs {first_title}",
    border=True,
)
headline[2].metric(
    "Test images only one model gets right",
    f"{mcnemar.only_first_correct} vs {mcnemar.only_second_correct}",
    help=f"{first_title} alone versus {second_title} alone",
    border=True,
)

st.subheader("Is the difference real? McNemar's test", help=explain("McNemar's test"))
getattr(st, verdict.tone)(verdict.text)
link_to_seeds_page()
st.caption(
    "McNemar's exact test (scipy's binomial test) looks only at the images on which the "
    "models differ: if neither model were better, each of them would be the one that is "
    "right about half of the time."
)

st.subheader("The original study's table, side by side", help=explain("macro F1"))
# st.table, not st.dataframe: static HTML that shows every cell at once and draws fast.
scores = (
    pd.DataFrame(comparison_rows(metrics, dataset.reference))
    .set_index("metric")
    .rename(index=METRIC_LABELS, columns={"SENet - CNN (ours)": DIFFERENCE})
)
st.table(scores.style.format("{:.5f}").format("{:+.5f}", subset=[DIFFERENCE]))
st.caption(
    (
        "Original study: the TensorFlow repository we reproduce, its published MNIST results "
        "after 100 epochs (Adam 1e-4, batch 32). "
        if dataset.key == DatasetName.MNIST
        else "The original study published MNIST results only. "
    )
    + "Ours: the models above. Macro: the unweighted mean over the ten classes."
)
costs = pd.DataFrame(cost_rows(evaluation, FIRST, SECOND)).set_index("model")
costs.index = pd.Index(
    [first_title, second_title, DIFFERENCE.removesuffix(" (ours)")], name="model"
)
costs.columns = ["parameters", "FLOPs per image", "CPU latency per image (ms)"]
st.table(
    costs.style.format("{:,}", subset=["parameters", "FLOPs per image"])
    .format("{:.3f}", subset=["CPU latency per image (ms)"])
    .format("{:+,}", subset=(costs.index[-1:], ["parameters", "FLOPs per image"]))
    .format("{:+.3f}", subset=(costs.index[-1:], ["CPU latency per image (ms)"]))
)
st.caption(
    "FLOPs: one forward pass of one 28×28 image, counted by torch.utils.flop_counter (a "
    "multiply-add is 2 FLOPs). Latency: the fastest of 200 single-image forward passes (batch 1) "
    f"on the CPU of the machine that ran the evaluation "
    f"({evaluation.measurements.get('cpu', 'not recorded')}, "
    f"{evaluation.measurements.get('threads', '?')} torch threads); "
    "it changes with the machine and its load.",
    help=explain("FLOPs"),
)

st.subheader("Where do they go wrong? Confusion matrices")
controls = st.columns([3, 2])
view = controls[0].radio(
    "Show",
    options=list(CONFUSION_VIEWS),
    format_func=CONFUSION_VIEWS.__getitem__,
    horizontal=True,
    key="results_view",
)
mute = controls[1].toggle(
    "Mute the diagonal",
    value=True,
    key="results_mute_diagonal",
    help="Grey out the correct predictions so that the colour scale shows the errors only.",
)
confusions = {name: np.asarray(metrics[name]["confusion"]) for name in (FIRST, SECOND)}
heatmaps = confusion_heatmaps(
    confusions, view=view, mute_diagonal=mute, titles=MODEL_TITLES, class_names=class_names
)


def _show_clicked_cell() -> None:
    """Copy a clicked heatmap cell into the cell selectors below."""
    points = st.session_state["results_confusion"]["selection"]["points"]
    cell = selected_cell(heatmaps, points)
    if cell is not None:
        model, true_class, predicted_class = cell
        st.session_state["results_cell_model"] = model
        st.session_state["results_cell_true"] = true_class
        st.session_state["results_cell_predicted"] = predicted_class
        st.session_state["results_gallery"] = "cell"


st.plotly_chart(
    heatmaps,
    key="results_confusion",
    on_select=_show_clicked_cell,
    selection_mode="points",
    width="stretch",
)
difference, reading = st.columns([1, 1], vertical_alignment="center")
difference.plotly_chart(
    confusion_difference_heatmap(
        confusions[FIRST],
        confusions[SECOND],
        view=view,
        mute_diagonal=mute,
        title=f"{second_title} minus {first_title}",
        class_names=class_names,
    ),
    key="results_confusion_difference",
    width="stretch",
)
reading.markdown(
    "**How to read them.** Rows are the true class, columns the predicted class; both "
    "models share one colour scale, and hovering a cell gives its count and shares. "
    "Row-normalised cells are shares of the true class (the diagonal is the recall), "
    "column-normalised cells shares of the predicted class (the diagonal is the precision).\n\n"
    f"In the difference, a red cell holds more images for {second_title} than for "
    f"{first_title}, a blue one fewer: off the diagonal, red means more of that mistake.\n\n"
    "**Click a cell** of either matrix to see its test images below."
)

st.subheader("Per-class precision, recall and F1")
st.plotly_chart(
    per_class_bars(
        {name: metrics[name]["per_class"] for name in (FIRST, SECOND)},
        titles=MODEL_TITLES,
        class_names=class_names,
    ),
    key="results_per_class",
    width="stretch",
)
st.caption(
    "The axis starts just below the lowest value, so small differences are visible; "
    "hover a bar for its exact value."
)


def _show_images(indices: np.ndarray, images: np.ndarray) -> None:
    """A grid of upsampled test images, each with both models' predictions."""
    if len(indices) == 0:
        st.write("No test images here.")
        return
    for start in range(0, min(len(indices), GALLERY_LIMIT), GALLERY_COLUMNS):
        row = indices[start : min(start + GALLERY_COLUMNS, GALLERY_LIMIT)]
        for column, index in zip(st.columns(GALLERY_COLUMNS), row, strict=False):
            pixels = images[index].repeat(PIXEL_SCALE, axis=0).repeat(PIXEL_SCALE, axis=1)
            column.image(pixels, width=28 * PIXEL_SCALE, output_format="PNG")  # no JPEG blur
            lines = prediction_lines(evaluation, int(index), dataset.class_names)
            column.caption("  \n".join(lines))


def _count_line(count: int, what: str) -> str:
    shown = f"; showing the first {GALLERY_LIMIT}" if count > GALLERY_LIMIT else ""
    return f"**{count} test {'image' if count == 1 else 'images'}** {what}{shown}."


st.subheader("Look at the mistakes")
test_data = load_test_images(dataset.key)
if test_data is not None and split_checksum(*test_data) != evaluation.record["data_sha256"]:
    st.warning(
        f"The {dataset.title} test set under {data_dir_label()} is not the one these models "
        "were evaluated on (its checksum differs), so its images are not shown beside "
        "their predictions."
    )
elif test_data is None:
    st.warning(
        f"The {dataset.title} test images are not on disk (looked under {data_dir_label()}), "
        "so they cannot be shown here. Everything else on this page comes from the saved "
        f"evaluation. Set SE_DEMO_DATA to a folder holding {dataset.folder}/raw to browse them."
    )
else:
    test_images = test_data[0]
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
        default_true, default_predicted = most_confused_cell(confusions[FIRST])
        st.session_state.setdefault("results_cell_model", FIRST)
        st.session_state.setdefault("results_cell_true", default_true)
        st.session_state.setdefault("results_cell_predicted", default_predicted)
        pickers = st.columns(3)
        model = pickers[0].selectbox(
            "Confusion matrix of",
            (FIRST, SECOND),
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
        _show_images(indices, test_images)
    else:
        set_labels = {
            "disagree": "the two models predict different classes",
            "only_first_correct": f"only {first_title} is right",
            "only_second_correct": f"only {second_title} is right",
        }
        which = st.radio(
            "Images where",
            IMAGE_SETS,
            format_func=set_labels.__getitem__,
            horizontal=True,
            key="results_image_set",
        )
        indices = comparison_indices(evaluation, which, FIRST, SECOND)
        st.markdown(_count_line(len(indices), f"where {set_labels[which]}"))
        _show_images(indices, test_images)
