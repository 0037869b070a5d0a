"""What SE learned (the SE excitation explorer): what the SE blocks do, per class, per input and across depth.

The SE paper's "Role of excitation" analysis (Hu et al., Fig. 6 and 7) on the SENet the
sidebar selects, from the excitations saved with its evaluation. One block picker serves
every view; each tab is one function that gets what it shows as arguments.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st
import torch

from app_pages.excitation_context import ChosenInput, Explorer, block_label, class_view, run_senet
from app_pages.excitation_intervene import show_interventions
from app_pages.resources import (
    active_dataset,
    active_model_dir,
    data_dir_label,
    load_models,
    load_results,
    load_test_split,
)
from se_demo.analysis.excitation import capture_recalibration, extreme_channels
from se_demo.analysis.excitation_stats import class_spread
from se_demo.analysis.excitation_text import describe_depth, format_probability
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.registry import DatasetName, ModelKind, dataset_info
from se_demo.figures.draw import digit_pixels, excitation_bars
from se_demo.figures.excitation import (
    class_mean_heatmap,
    class_spread_chart,
    depth_profile,
    recalibration_maps,
)
from se_demo.words import explain, with_article

BY_INDEX, BY_CLASS, MISTAKE, DRAWING = (
    "a test image by index",
    "a test image of a class",
    "one of the SENet's mistakes",
    "the current drawing",
)

# Three panels side by side need ~760 px: on a phone their titles and block names ran into
# each other, so there the chart keeps that width and scrolls sideways.
_DEPTH_ON_A_PHONE = """<style>
@media (max-width: 640px) {
  .st-key-exc_depth_box { overflow-x: auto; }
  .st-key-exc_depth_box > div { min-width: 760px; }
}
</style>"""


def show_class_view(explorer: Explorer, block: str) -> None:
    """Across depth, class means (paper's Fig. 6) and one class's spread (Fig. 7)."""
    stats, means_by_class, overall = class_view(str(explorer.directory))
    names = explorer.class_names
    labels = explorer.results.labels
    st.subheader("Across depth: how class-specific is each block?")
    st.html(_DEPTH_ON_A_PHONE)
    with st.container(key="exc_depth_box"):
        st.plotly_chart(depth_profile([asdict(s) for s in stats]), key="exc_depth")
    st.markdown(describe_depth(stats))
    st.caption(
        "Class-specificity: the share of the variation of a block's excitations across the "
        f"{len(labels):,} test images that the true class explains (eta squared, pooled over "
        "channels so that each channel counts by how much it varies). 0: every class gets "
        "the same mean excitations; 1: the excitations depend on the class only."
    )
    title = block_label(explorer, block)
    st.subheader(f"Class means (paper's Fig. 6): {title}")
    relative = st.toggle("Show each class's difference from the all-class mean", key="exc_relative")
    st.plotly_chart(
        class_mean_heatmap(
            means_by_class[block],
            overall[block],
            title=f"{title}: mean excitation per class, channels by index",
            class_names=names,
            relative=relative,
        ),
        key="exc_heatmap",
    )
    label = st.selectbox(
        "Class", range(len(names)), format_func=names.__getitem__, key=explorer.key("exc_class")
    )
    spread = class_spread(explorer.saved[block], labels, label)
    st.markdown(f"**Within class {names[label]} (paper's Fig. 7)**: {spread.count:,} test images")
    st.plotly_chart(
        class_spread_chart(
            spread.mean,
            spread.low,
            spread.high,
            overall[block],
            title=f"{title}: excitations of class {names[label]}",
            class_name=names[label],
        ),
        key="exc_spread",
    )


def choose_input(explorer: Explorer) -> ChosenInput | None:
    """The input the input view and the interventions look at, or None."""
    names, labels, split = explorer.class_names, explorer.results.labels, explorer.split
    # A drawing is a handwritten digit: it only means something to an MNIST model.
    drawing = (
        st.session_state.get("current_drawing")
        if explorer.dataset.key == DatasetName.MNIST
        else None
    )
    sources = ([BY_INDEX, BY_CLASS, MISTAKE] if split is not None else []) + (
        [DRAWING] if drawing is not None else []
    )
    if split is None:
        st.info(
            f"The {explorer.dataset.title} test images are not available at "
            f"{data_dir_label()}, so test images cannot be shown here (the class view uses "
            "the saved excitations). " + ("Your drawing can." if drawing is not None else "")
        )
    if not sources:
        return None
    source = st.radio("Input", sources, horizontal=True, key="exc_source")
    if source == DRAWING:
        pixels = np.asarray(drawing, dtype=np.float32)
        return ChosenInput(
            explorer.senet.normalize(torch.from_numpy(pixels)[None]), pixels, "your drawing"
        )
    assert split is not None
    if source == BY_INDEX:
        index = int(st.number_input("Test image", 0, len(labels) - 1, 0, key="exc_index"))
    elif source == BY_CLASS:
        wanted = st.selectbox(
            "Class",
            range(len(names)),
            format_func=names.__getitem__,
            key=explorer.key("exc_input_class"),
        )
        members = np.flatnonzero(labels == wanted)
        nth = st.slider("Which one", 1, len(members), 1, key="exc_nth")
        index = int(members[nth - 1])
    else:
        predicted = explorer.results.predictions(ModelKind.SENET)
        index = st.selectbox(
            "Mistake",
            np.flatnonzero(predicted != labels).tolist(),
            format_func=lambda i: (
                f"test image {i}: {with_article(names[labels[i]])} taken for "
                f"{with_article(names[predicted[i]])}"
            ),
            key=explorer.key("exc_mistake"),
        )
    image = split.images[index : index + 1]
    described = f"test image {index}, {with_article(names[labels[index]])}"
    return ChosenInput(explorer.senet.normalize(image), image[0].numpy() / 255.0, described)


def show_input_view(explorer: Explorer, block: str, chosen: ChosenInput) -> None:
    """One input's excitations beside its class's mean, and the block's recalibration."""
    names = explorer.class_names
    excitation, logits = run_senet(explorer.senet.model, chosen.image)
    probabilities = torch.softmax(torch.from_numpy(logits), 0).numpy()
    predicted = int(probabilities.argmax())
    means_by_class = class_view(str(explorer.directory))[1]
    left, right = st.columns([1, 3])
    with left:
        st.plotly_chart(
            digit_pixels(chosen.pixels, height=180),
            key="exc_pixels",
            config={"displayModeBar": False},
        )
    with right:
        truth = f"; it is {chosen.described}" if chosen.described != "your drawing" else ""
        st.markdown(
            f"SENet predicts **{names[predicted]}** "
            f"(probability {format_probability(float(probabilities[predicted]))}){truth}"
        )
        st.caption(
            "Bars: this input's excitation of every channel. Black marks: the mean "
            f"excitation of the test images of class {names[predicted]}, the predicted one."
        )
    st.plotly_chart(
        excitation_bars(
            excitation,
            reference={b: means_by_class[b][predicted] for b in explorer.blocks},
            reference_label=f"mean of class {names[predicted]}",
            height_per_block=130,
        ),
        key="exc_bars",
    )
    st.subheader(f"Recalibration in {block_label(explorer, block)}")
    st.caption(
        "The block's feature maps before and after the SE multiplication. Each channel "
        "is multiplied by its excitation s: channels with s near 1 pass, channels with "
        "small s fade. Before and after share one grey scale per channel."
    )
    count = st.slider("Channels to show", 1, 8, 4, key="exc_channel_count")
    most, least = extreme_channels(excitation[block], count)
    for title, picked, key in (
        ("Most excited channels", most, "exc_maps_most"),
        ("Least excited channels", least, "exc_maps_least"),
    ):
        maps = capture_recalibration(explorer.senet.model, chosen.image, block, picked)
        st.plotly_chart(
            recalibration_maps(maps.before, maps.after, picked, maps.excitation, title=title),
            key=key,
        )


def _load_explorer() -> Explorer:
    dataset = dataset_info(active_dataset())
    directory = active_model_dir()
    try:
        senet = load_models(directory)[ModelKind.SENET]
        results = load_results(directory)
    except CheckpointError as error:
        st.error(
            f"No SENet with a saved evaluation to explore for {dataset.title}: {error}. Create "
            f"it with `python -m se_demo evaluate --dataset {dataset.key}`."
        )
        st.stop()
    return Explorer(directory, senet, results, load_test_split(senet.dataset.key))


def main() -> None:
    """The What SE learned page: one block picker, then the three views as tabs."""
    st.title("What SE learned")
    explorer = _load_explorer()
    st.caption(
        "An SE block squeezes each channel to one number, passes those through a small "
        "network and a sigmoid, and multiplies every channel by the result, its **excitation** "
        "(0: suppress, 1: keep). The SE paper (Hu et al., section 7.2, Fig. 6 and 7) found "
        "excitations nearly the same for every class in early blocks, class-specific in later "
        "ones, and saturated near 1 in the last. Here is the same analysis on our "
        f"{explorer.dataset.title} SENet.",
        help=explain("SE block", "squeeze", "excitation", "class-specificity", "saturation"),
    )
    block = st.selectbox(
        "SE block (every view below shows this block)",
        explorer.blocks,
        format_func=lambda b: block_label(explorer, b),
        key="exc_block",
    )
    tab_class, tab_input, tab_intervene = st.tabs(["Across classes", "One input", "Intervene"])
    with tab_class:
        show_class_view(explorer, block)
    with tab_input:
        chosen = choose_input(explorer)
        if chosen is not None:
            show_input_view(explorer, block, chosen)
    with tab_intervene:
        show_interventions(explorer, block, chosen)


main()
