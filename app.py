"""se-demo: Squeeze-and-Excitation networks on MNIST, side by side. ``streamlit run app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from app_pages.presentation import PRESENTER_KEY, apply_page_style
from app_pages.resources import (
    active_model_dir,
    data_dir_label,
    load_records,
    load_test_images,
    start_class_worker,
)
from se_demo.analysis.results import recipe_line
from se_demo.analysis.verdicts import undertrained_note
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.links import choice_problem
from se_demo.core.registry import DATASETS, MODEL_TITLES


def _pages() -> dict[str, list[StreamlitPage]]:
    """The app's pages by section, in lesson order: what SE is, try it, what it learned, then
    whether it helps. Each is its file, which runs alone too (AppTest)."""
    return {
        "Learn": [
            st.Page(
                "app_pages/lesson.py",
                title="How SE works",
                icon=":material/school:",
                url_path="how-se-works",
                default=True,
            ),
            st.Page("app_pages/draw.py", title="Draw a digit", icon=":material/draw:"),
            st.Page("app_pages/excitation.py", title="What SE learned", icon=":material/biotech:"),
        ],
        "Does SE help?": [
            st.Page(
                "app_pages/results.py", title="Test-set results", icon=":material/leaderboard:"
            ),
            st.Page(
                "app_pages/experiments.py", title="Seeds and ablations", icon=":material/casino:"
            ),
            st.Page("app_pages/robustness.py", title="Robustness", icon=":material/shield:"),
            st.Page(
                "app_pages/class_digits.py",
                title="Our class's digits",
                icon=":material/groups:",
                url_path="our-class-digits",
            ),
        ],
        "Lab": [
            st.Page("app_pages/train.py", title="Training lab", icon=":material/model_training:"),
        ],
    }


def _choices() -> str:
    """The sidebar's dataset and presenter mode; the dataset chosen."""
    dataset = st.radio(
        "Dataset",
        list(DATASETS),
        format_func=lambda key: DATASETS[key].title,
        key="dataset",
        horizontal=True,
        bind="query-params",
        help="Every page but the drawing page follows this choice.",
    )
    st.toggle(
        "Presenter mode",
        key=PRESENTER_KEY,
        bind="query-params",
        help="Larger type and layouts that fit a 1280x720 projector without scrolling; "
        "long explanations are folded away. Kept in the page's link.",
    )
    return str(dataset)


def _loaded_models(dataset: str) -> None:
    """The sidebar's models (shipped or a lab run), each with its recipe; the app stops at
    a damaged folder and offers the way back to the shipped models."""
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


def _test_set(dataset: str) -> None:
    """Where the sidebar's test set was read from, or why the pages run without it."""
    title, folder = DATASETS[dataset].title, DATASETS[dataset].folder
    if load_test_images(dataset) is None:
        st.warning(
            f"{title} is missing or unreadable at {data_dir_label()}: pages show the saved "
            "results; browsing test images is off. Set SE_DEMO_DATA to a folder holding "
            f"{folder}/raw."
        )
    else:
        st.caption(f"{title} test set loaded from {data_dir_label()}")


def main() -> None:
    """Set up the page and the sidebar, then run the page the URL names."""
    # The favicon is a local PNG: a ":material/...:" page icon is fetched from
    # fonts.gstatic.com, which fails on a classroom network without internet, and an emoji
    # shows as an empty box where no emoji font is installed.
    st.set_page_config(
        page_title="se-demo: Squeeze-and-Excitation on MNIST",
        page_icon=str(Path(__file__).parent / "app_pages" / "favicon.png"),
        layout="wide",
    )
    asked_dataset = st.query_params.get("dataset")  # before the radio drops a value it lacks
    with st.sidebar:
        dataset = _choices()
        _loaded_models(dataset)
        _test_set(dataset)
    apply_page_style()
    start_class_worker()  # trains the class's queued runs, also those queued on other replicas
    titles = [info.title for info in DATASETS.values()]
    if problem := choice_problem("dataset", asked_dataset, titles, DATASETS[dataset].title):
        st.warning(problem, icon=":material/link_off:")
    page = st.navigation(_pages())
    # Pages that keep work across visits (the Draw page's strokes) need to know a visit began.
    st.session_state["arrived_on_page"] = st.session_state.get("current_page") != page.url_path
    st.session_state["current_page"] = page.url_path
    page.run()


main()
