"""Results: which model is better, where do they go wrong, and is the difference real?

Everything comes from the saved evaluation (`load_results()`); no model runs here. Only
the test images themselves need the dataset on disk. Each section below the verdict is one
function of `app_pages/results_*.py` that gets what it shows as arguments.
"""

from __future__ import annotations

import streamlit as st

from app_pages.resources import (
    active_dataset,
    active_model_dir,
    link_to_seeds_page,
    load_records,
    load_results,
)
from app_pages.results_confusion import show_confusions, show_per_class
from app_pages.results_gallery import CELL_KEYS, show_mistakes
from app_pages.results_tables import show_tables
from se_demo.analysis.results import evaluation_mcnemar
from se_demo.analysis.verdicts import compare_verdict
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.registry import MODEL_TITLES, ModelKind, dataset_info
from se_demo.words import explain, percent

FIRST: str = ModelKind.CNN
SECOND: str = ModelKind.SENET

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

show_tables(metrics, evaluation, dataset, FIRST, SECOND)
show_confusions(metrics, FIRST, SECOND, class_names)
show_per_class(metrics, FIRST, SECOND, class_names)
show_mistakes(evaluation, dataset, FIRST, SECOND)
