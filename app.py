"""se-demo: Squeeze-and-Excitation networks on MNIST, side by side. ``streamlit run app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.resources import active_model_dir, data_dir_label, load_records, load_test_images
from se_demo.checkpoints import CheckpointError
from se_demo.config import DATASETS
from se_demo.results import MODEL_TITLES, recipe_line
from se_demo.verdicts import undertrained_note

# The favicon is an emoji: a ":material/...:" page icon is fetched from fonts.gstatic.com,
# which fails on a classroom network without internet (a console error in every browser).
st.set_page_config(
    page_title="se-demo: Squeeze-and-Excitation on MNIST", page_icon="🧠", layout="wide"
)

pages = [
    st.Page("app_pages/results.py", title="Results", icon=":material/leaderboard:", default=True),
    st.Page("app_pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    st.Page("app_pages/excitation.py", title="SE excitation", icon=":material/biotech:"),
    st.Page("app_pages/train.py", title="Training lab", icon=":material/model_training:"),
    st.Page("app_pages/experiments.py", title="Seeds and ablations", icon=":material/casino:"),
]

with st.sidebar:
    dataset = st.radio(
        "Dataset",
        list(DATASETS),
        format_func=lambda key: DATASETS[key].title,
        key="dataset",
        horizontal=True,
        help="Every page but the drawing page follows this choice.",
    )
    model_dir = st.session_state.get("model_dir")
    if model_dir and Path(model_dir).parent.name != dataset:
        st.session_state["model_dir"] = None  # a run belongs to the dataset it was trained on
    st.markdown("### Loaded models")
    if st.session_state.get("model_dir"):
        st.caption(f"From the run {Path(st.session_state['model_dir']).name}")
    try:  # checks the weight files without importing torch: the Results page needs none
        records = load_records(active_model_dir())
    except CheckpointError as error:
        st.error(f"The models in '{active_model_dir()}' could not be loaded: {error}")
        if st.session_state.get("model_dir"):  # a damaged run: offer the way back
            st.button(
                "Show the shipped checkpoints",
                key="back_to_shipped",
                on_click=lambda: st.session_state.update(model_dir=None),
            )
        st.stop()
    for name, record in records.items():
        st.markdown(f"**{MODEL_TITLES[name]}**: {recipe_line(record)}")
        accuracy = (record.get("test_metrics") or {}).get("accuracy")
        note = accuracy is not None and undertrained_note(record, accuracy, dataset)
        if note:
            st.caption(f":orange[:material/warning: {note}]")
    title, folder = DATASETS[dataset].title, DATASETS[dataset].folder
    if load_test_images(dataset) is None:
        st.warning(
            f"{title} is missing or unreadable at {data_dir_label()}: pages show the saved "
            "results; browsing test images is off. Set SE_DEMO_DATA to a folder holding "
            f"{folder}/raw."
        )
    else:
        st.caption(f"{title} test set loaded from {data_dir_label()}")

st.navigation(pages).run()
