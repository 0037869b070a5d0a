"""SE excitation explorer: what the SE blocks do, per class, per input and across depth.

The SE paper's "Role of excitation" analysis (Hu et al., Fig. 6 and 7) on the SENet the
sidebar selects, from the excitations saved with its evaluation; interventions run on
private copies of the shared model.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from app_pages.resources import (
    active_dataset,
    active_model_dir,
    data_dir_label,
    load_models,
    load_results,
    load_test_split,
)
from se_demo.checkpoints import CheckpointError
from se_demo.config import dataset_info
from se_demo.data import normalize
from se_demo.evaluate import predict
from se_demo.excitation import (
    INTERVENTION_MODES,
    BlockStatistics,
    Intervention,
    block_statistics,
    capture_recalibration,
    class_means,
    class_spread,
    concat_batches,
    describe_depth,
    describe_interventions,
    extreme_channels,
    intervened_accuracy,
    intervened_model,
    intervention_rows,
    recording_excitations,
)
from se_demo.plots import (
    block_title,
    class_mean_heatmap,
    class_spread_chart,
    depth_profile,
    digit_pixels,
    excitation_bars,
    probability_bars,
    recalibration_maps,
)

BY_INDEX, BY_CLASS, MISTAKE, DRAWING = (
    "a test image by index",
    "a test image of a class",
    "one of the SENet's mistakes",
    "the current drawing",
)
ALL_BLOCKS = "all"


@st.cache_data(show_spinner=False)
def _class_view(
    directory: str,
) -> tuple[list[BlockStatistics], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Block statistics, class means {block: (K, C)} and test-set means {block: (C,)}."""
    results = load_results(Path(directory))
    saved = results.excitations["senet"]
    summary = results.record["models"]["senet"]
    # The evaluation's float32 means when saved, else the mean of the float16 excitations.
    means = summary.get("mean_excitation") or {b: x.mean(0) for b, x in saved.items()}
    classes = len(dataset_info(results.record.get("dataset", "mnist")).class_names)
    return (
        block_statistics(saved, results.labels, classes),
        {block: class_means(x, results.labels, classes) for block, x in saved.items()},
        {block: np.asarray(m, dtype=np.float32) for block, m in means.items()},
    )


@st.cache_data(show_spinner="Running the test set through a copy of the SENet...")
def _test_accuracy(
    directory: str,
    dataset: str,
    blocks: tuple[str, ...],
    mode: str,
    channel: int | None,
    scale: float,
) -> float:
    """Test-set accuracy of the SENet with one intervention on ``blocks`` (needs the dataset)."""
    split = load_test_split(dataset)
    assert split is not None
    interventions = [Intervention(block, mode, channel, scale) for block in blocks]
    model = load_models(Path(directory))["senet"][0]
    means = _class_view(directory)[2]
    return intervened_accuracy(model, interventions, split.images, split.labels, means, dataset)


def _excitations_and_probabilities(
    model: torch.nn.Module, image: torch.Tensor, dataset: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One input's excitations {block: (C,)} and class probabilities (K,)."""
    with recording_excitations(model) as store:
        probabilities = predict(model, image, dataset=dataset)[0].numpy()
    return {b: x[0].numpy() for b, x in concat_batches(store).items()}, probabilities


dataset = dataset_info(active_dataset())
names = list(dataset.class_names)
directory = active_model_dir()
st.title("SE excitation explorer")
try:
    senet = load_models(directory)["senet"][0]
    results = load_results(directory)
except CheckpointError as error:
    st.error(
        f"No SENet with a saved evaluation to explore for {dataset.title}: {error}. Create "
        f"it with `python -m se_demo evaluate --dataset {dataset.key}`."
    )
    st.stop()
st.caption(
    "An SE block squeezes each channel to one number, passes those through a small "
    "network and a sigmoid, and multiplies every channel by the result, its **excitation** "
    "(0: suppress, 1: keep). The SE paper (Hu et al., section 7.2, Fig. 6 and 7) found "
    "excitations nearly the same for every class in early blocks, class-specific in later "
    "ones, and saturated near 1 in the last. Here is the same analysis on our "
    f"{dataset.title} SENet."
)

split = load_test_split(dataset.key)
saved = results.excitations["senet"]
labels = results.labels
test_images = f"{len(labels):,} test images"
blocks = list(saved)
stats, means_by_class, overall = _class_view(str(directory))


def _block_label(block: str) -> str:
    return "all blocks" if block == ALL_BLOCKS else block_title(block, saved[block].shape[1])


block = st.selectbox("SE block", blocks, format_func=_block_label, key="exc_block")
tab_class, tab_input, tab_intervene = st.tabs(["Across classes", "One input", "Intervene"])

with tab_class:
    st.subheader("Across depth: how class-specific is each block?")
    st.plotly_chart(depth_profile([asdict(s) for s in stats]), key="exc_depth")
    st.markdown(describe_depth(stats))
    st.caption(
        f"Class-specificity: the share of the variation of a block's excitations across the "
        f"{test_images} that the true class explains (eta squared, pooled over channels so "
        "that each channel counts by how much it varies). 0: every class gets the same mean "
        "excitations; 1: the excitations depend on the class only."
    )
    st.subheader(f"Class means (paper's Fig. 6): {_block_label(block)}")
    relative = st.toggle("Show each class's difference from the all-class mean", key="exc_relative")
    st.plotly_chart(
        class_mean_heatmap(
            means_by_class[block],
            overall[block],
            title=f"{_block_label(block)}: mean excitation per class, channels by index",
            class_names=names,
            relative=relative,
        ),
        key="exc_heatmap",
    )
    label = st.selectbox("Class", range(len(names)), format_func=names.__getitem__, key="exc_class")
    spread = class_spread(saved[block], labels, label)
    st.markdown(f"**Within class {names[label]} (paper's Fig. 7)**: {spread.count:,} test images")
    st.plotly_chart(
        class_spread_chart(
            spread.mean,
            spread.low,
            spread.high,
            overall[block],
            title=f"{_block_label(block)}: excitations of class {names[label]}",
            class_name=names[label],
        ),
        key="exc_spread",
    )

# The input that both the input view and the interventions look at.
image: torch.Tensor | None = None
pixels: np.ndarray | None = None
described = ""
with tab_input:
    # A drawing is a handwritten digit: it only means something to an MNIST model.
    drawing = st.session_state.get("current_drawing") if dataset.key == "mnist" else None
    sources = ([BY_INDEX, BY_CLASS, MISTAKE] if split is not None else []) + (
        [DRAWING] if drawing is not None else []
    )
    if split is None:
        st.info(
            f"The {dataset.title} test images are not available at {data_dir_label()}, so "
            "test images cannot be shown here (the class view uses the saved excitations). "
            + ("Your drawing can." if drawing is not None else "")
        )
    if sources:
        source = st.radio("Input", sources, horizontal=True, key="exc_source")
        index: int | None = None
        if source == BY_INDEX:
            index = int(st.number_input("Test image", 0, len(labels) - 1, 0, key="exc_index"))
        elif source == BY_CLASS:
            wanted = st.selectbox(
                "Class", range(len(names)), format_func=names.__getitem__, key="exc_input_class"
            )
            members = np.flatnonzero(labels == wanted)
            nth = st.slider("Which one", 1, len(members), 1, key="exc_nth")
            index = int(members[nth - 1])
        elif source == MISTAKE:
            predicted_saved = results.predictions("senet")
            index = st.selectbox(
                "Mistake",
                np.flatnonzero(predicted_saved != labels).tolist(),
                format_func=lambda i: (
                    f"test image {i}: a {names[labels[i]]} taken for a {names[predicted_saved[i]]}"
                ),
                key="exc_mistake",
            )
        if index is not None and split is not None:
            image = split.images[index : index + 1]
            pixels = image[0].numpy() / 255.0
            described = f"test image {index}, a {names[labels[index]]}"
        elif source == DRAWING:
            pixels = np.asarray(drawing, dtype=np.float32)
            image = normalize(torch.from_numpy(pixels)[None])
            described = "your drawing"

    if image is not None and pixels is not None:
        excitation, probabilities = _excitations_and_probabilities(senet, image, dataset.key)
        predicted = int(probabilities.argmax())
        left, right = st.columns([1, 3])
        with left:
            st.plotly_chart(
                digit_pixels(pixels, height=180),
                key="exc_pixels",
                config={"displayModeBar": False},
            )
        with right:
            truth = f"; it is {described}" if described != "your drawing" else ""
            st.markdown(
                f"SENet predicts **{names[predicted]}** "
                f"(probability {probabilities[predicted]:.5f}){truth}"
            )
            st.caption(
                "Bars: this input's excitation of every channel. Black marks: the mean "
                f"excitation of the test images of class {names[predicted]}, the predicted one."
            )
        st.plotly_chart(
            excitation_bars(
                excitation,
                reference={b: means_by_class[b][predicted] for b in blocks},
                reference_label=f"mean of class {names[predicted]}",
                height_per_block=130,
            ),
            key="exc_bars",
        )
        st.subheader(f"Recalibration in {_block_label(block)}")
        st.caption(
            "The block's feature maps before and after the SE multiplication. Each channel "
            "is multiplied by its excitation e: channels with e near 1 pass, channels with "
            "small e fade. Before and after share one grey scale per channel."
        )
        count = st.slider("Channels to show", 1, 8, 4, key="exc_channel_count")
        most, least = extreme_channels(excitation[block], count)
        for title, picked, key in (
            ("Most excited channels", most, "exc_maps_most"),
            ("Least excited channels", least, "exc_maps_least"),
        ):
            maps = capture_recalibration(senet, image, block, picked, dataset.key)
            st.plotly_chart(
                recalibration_maps(maps.before, maps.after, picked, maps.excitation, title=title),
                key=key,
            )

with tab_intervene:
    st.caption(
        "Change one block's excitation on a private copy of the SENet (the shared model "
        "that other sessions use is never touched) and see what it does to the prediction "
        "of the input chosen under *One input* and to the test-set accuracy."
    )
    target = st.selectbox(
        "Block to change", [*blocks, ALL_BLOCKS], format_func=_block_label, key="exc_int_block"
    )
    mode = st.radio(
        "Intervention",
        ["none", *INTERVENTION_MODES],
        format_func=lambda m: "none (as trained)" if m == "none" else INTERVENTION_MODES[m],
        key="exc_int_mode",
    )
    targets = tuple(blocks) if target == ALL_BLOCKS else (target,)
    channel: int | None = None
    scale = 1.0
    if mode == "scale":
        if target == ALL_BLOCKS:
            st.info("Choose one block to scale one of its channels.")
            mode = "none"
        else:
            channels = saved[target].shape[1]
            channel = int(st.number_input("Channel", 0, channels - 1, 0, key="exc_int_channel"))
            scale = float(
                st.slider("Scale its excitation by", 0.0, 3.0, 0.0, 0.05, key="exc_int_scale")
            )
    interventions = (
        [] if mode == "none" else [Intervention(b, mode, channel, scale) for b in targets]
    )

    if image is not None:
        changed = intervened_model(senet, interventions, overall)
        changed_excitation, changed_probabilities = _excitations_and_probabilities(
            changed, image, dataset.key
        )
        after = int(changed_probabilities.argmax())
        st.markdown(
            f"Input: {described}.  \n"
            f"As trained: **{names[predicted]}** "
            f"(probability {probabilities[predicted]:.5f})  \n"
            f"With the intervention: **{names[after]}** "
            f"(probability {changed_probabilities[after]:.5f})"
        )
        st.plotly_chart(
            probability_bars(
                {"as trained": probabilities, "with the intervention": changed_probabilities}
            ),
            key="exc_int_probabilities",
        )
        with st.expander("Excitations with the intervention (marks: as trained)"):
            st.plotly_chart(
                excitation_bars(
                    changed_excitation,
                    reference=excitation,
                    reference_label="as trained",
                    height_per_block=110,
                ),
                key="exc_int_bars",
            )
    else:
        st.info("Choose an input under *One input* to see its prediction change.")

    trained = results.metrics("senet")["accuracy"]
    if split is None:
        st.info(
            f"The test-set accuracy of an intervention needs the {dataset.title} test images, "
            f"which are not available at {data_dir_label()}. The table below was computed "
            "when the checkpoint was evaluated."
        )
    elif mode == "none":
        st.metric("Test accuracy, as trained", f"{trained:.2%}")
    else:
        settings = (targets, mode, channel, scale)
        if st.button("Test-set accuracy with this intervention", key="exc_int_run"):
            st.session_state["exc_int_requested"] = settings
        if st.session_state.get("exc_int_requested") == settings:
            accuracy = _test_accuracy(str(directory), dataset.key, *settings)
            st.metric(
                "Test accuracy with the intervention",
                f"{accuracy:.2%}",
                delta=f"{100 * (accuracy - trained):+.2f} pp",
            )

    st.markdown(
        "**What each block's excitation is worth**, computed once for this checkpoint on "
        f"the {test_images} (as trained: {trained:.2%})"
    )
    summary = results.record["models"]["senet"]
    rows = intervention_rows(summary)
    if rows:
        st.dataframe(
            rows,
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="%+.2f" if "pp" in name else "%.2f")
                for name in rows[0]
                if name != "SE block"
            },
            key="exc_int_table",
        )
        st.markdown(describe_interventions(summary))
        st.caption(
            "SE off: excitations forced to 1, the plain CNN path with the SE layers "
            "removed. Mean excitation: each channel always gets its test-set mean, so the "
            "block no longer depends on the input; the gap to SE off shows what the "
            "average scaling does, the gap to the trained model what input dependence adds."
        )
    else:
        st.info(
            "This evaluation has no saved intervention results; create them with "
            f"`python -m se_demo evaluate --dataset {dataset.key}`."
        )
