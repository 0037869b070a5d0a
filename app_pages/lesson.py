"""How SE works: the two networks as a diagram, then one SE block step by step on one input."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from app_pages.presentation import glossary_expander, presenter_mode
from app_pages.resources import active_dataset, active_model_dir, load_models, load_test_images
from se_demo.checkpoints import CheckpointError
from se_demo.config import ModelConfig, dataset_info
from se_demo.figures_lesson import (
    KEPT_COLOR,
    SUPPRESSED_COLOR,
    architecture_dot,
    channel_montage,
    step_bars,
)
from se_demo.lesson import PAPER_HEADLINE, LayerRow, SEBlockSteps, explain_se_block, layer_table
from se_demo.models import build_from_config
from se_demo.plots import MODEL_COLORS, block_title, digit_pixels
from se_demo.results import MODEL_TITLES
from se_demo.words import explain, percent, with_article

DRAWING, TEST_IMAGE = "the digit you drew", "a test image"
HIGHLIGHTED = 3  # channels framed as most and least kept


@st.cache_data(show_spinner=False)
def _layer_tables(senet_config: dict[str, Any]) -> dict[str, list[LayerRow]]:
    """Both networks' layer tables, from freshly built models (the layout needs no weights)."""
    config = ModelConfig.from_dict(senet_config)
    return {
        name: layer_table(build_from_config(ModelConfig(**{**senet_config, "name": name})))
        for name in ("cnn", config.name)
    }


def _costs(tables: dict[str, list[LayerRow]]) -> None:
    cnn, senet = (
        {k: sum(getattr(r, k) for r in t) for k in ("parameters", "flops")} for t in tables.values()
    )
    extra_parameters = senet["parameters"] - cnn["parameters"]
    extra_flops = senet["flops"] - cnn["flops"]
    st.markdown("**What SE costs**")
    st.metric(
        "Extra parameters",
        f"+{extra_parameters:,}",
        f"+{percent(extra_parameters / cnn['parameters'], 2)}",
        delta_color="off",
        help=f"Of the Basic CNN's {cnn['parameters']:,} parameters.",
    )
    st.metric(
        "Extra FLOPs per image",
        f"+{extra_flops:,}",
        f"+{percent(extra_flops / cnn['flops'], 2)}",
        delta_color="off",
        help=f"Of the Basic CNN's {cnn['flops']:,} FLOPs per image. " + explain("FLOPs"),
    )
    st.caption(
        "Almost all of both networks' parameters sit in the first fully connected layer "
        "(1,606,144). The SE blocks' squeeze and scaling are element-wise and not counted "
        "as FLOPs here; they add about 44,000 more operations per image."
    )


def _link(page: str, label: str, icon: str) -> None:
    """A link to another page of the app; plain text when the page runs on its own (tests)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.markdown(label)


def _pick_input(dataset: str) -> tuple[np.ndarray, str] | None:
    """The input to follow through the block: the Draw page's digit, or a test image."""
    drawing = st.session_state.get("current_drawing")
    sources = [DRAWING, TEST_IMAGE] if drawing is not None and dataset == "mnist" else [TEST_IMAGE]
    source = st.segmented_control(
        "Input", sources, default=sources[0], key="lesson_source", required=True
    )
    if source == DRAWING:
        return np.asarray(drawing), "your drawing"
    images = load_test_images(dataset)
    if images is None:
        st.warning("The test images are not available here; draw a digit on the Draw page.")
        return None
    pixels, labels = images
    index = int(
        st.number_input(
            f"Test image (0 to {len(labels) - 1:,})",
            min_value=0,
            max_value=len(labels) - 1,
            value=0,
            key="image",
            bind="query-params",
            width=220,
        )
    )
    name = dataset_info(dataset).class_names[labels[index]]
    return pixels[index], f"test image {index} ({with_article(name)})"


def _step(
    title: str,
    formula: str,
    shape: str,
    parameters: str,
    sentence: str,
    figure: Any,
    key: str,
    terms: tuple[str, ...] = (),
) -> None:
    """One step of the block: its formula and facts on the left, its numbers on the right.

    ``terms``: glossary terms the step introduces, explained in the title's help.
    """
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"**{title}**", help=explain(*terms) if terms else None)
        st.latex(formula)
        st.caption(f"shape {shape} · {parameters}")
        st.markdown(sentence)
    with right:
        st.plotly_chart(figure, key=key, config={"displayModeBar": False})


def _walkthrough(steps: SEBlockSteps, label: str, classes: tuple[str, ...]) -> None:
    c, hidden = steps.channels, len(steps.fc1)
    order = np.argsort(steps.excitation, kind="stable")
    kept = [int(i) for i in order[::-1][:HIGHLIGHTED]]
    cut = [int(i) for i in order[:HIGHLIGHTED]]
    marks = {**dict.fromkeys(kept, KEPT_COLOR), **dict.fromkeys(cut, SUPPRESSED_COLOR)}
    h, w = steps.feature_maps.shape[1:]
    answer = classes[int(np.argmax(steps.probabilities))]
    st.caption(
        f"Following {label} through {block_title(steps.block, c)}; the SENet reads it as "
        f"**{answer}** ({percent(np.max(steps.probabilities))} sure). Every number below is the one the "
        "model computed, read from the block through hooks."
    )
    zmax = float(steps.feature_maps.max())
    _step(
        "0. Feature maps U",
        rf"U = \mathrm{{ReLU}}(\mathrm{{conv}}(\cdot)) \in \mathbb{{R}}^{{{c}\times{h}\times{w}}}",
        f"{c} x {h} x {w}",
        "made by the stage's two convolutions",
        f"The stage's second convolution gives {c} channels, each a {h}x{w} map of where it "
        "found its pattern. The SE block decides how much of each channel to pass on.",
        channel_montage(steps.feature_maps, zmax=zmax, highlight=marks, height=260),
        "lesson_maps",
    )
    squeeze = {
        "mean": r"z_c = \frac{1}{H W}\sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "sum": r"z_c = \sum_{i=1}^{H}\sum_{j=1}^{W} u_c(i, j)",
        "max": r"z_c = \max_{i, j}\, u_c(i, j)",
    }[steps.squeeze]
    _step(
        "1. Squeeze",
        squeeze,
        f"{c}",
        "0 parameters",
        f"Each map shrinks to one number: how active the channel is over the whole image. "
        f"The block now sees all {c} channels at once, a global summary no 3x3 filter has.",
        step_bars(steps.squeezed, axis_title="channel c: z_c"),
        "lesson_squeeze",
        ("squeeze",),
    )
    _step(
        f"2. Excitation, first layer (FC1, reduction ratio r = {c // hidden}) and ReLU",
        r"\delta(W_1 z + b_1),\; W_1 \in \mathbb{R}^{" + f"{hidden}\\times{c}" + "}",
        f"{c} -> {hidden}",
        f"{steps.parameters['fc1']:,} parameters",
        f"A fully connected layer squeezes the {c} numbers into {hidden} (the reduction ratio "
        f"r = {c // hidden}); ReLU (δ) sets the negative ones (grey) to 0.",
        step_bars(
            steps.fc1,
            axis_title="hidden unit: FC1 output (grey bars below 0 become 0)",
            highlight=dict.fromkeys(np.flatnonzero(steps.relu <= 0), "#c0c4c8"),
            color="#5f6368",
        ),
        "lesson_fc1",
        ("excitation", "reduction ratio"),
    )
    _step(
        "3. Excitation, second layer (FC2)",
        r"W_2\, \delta + b_2,\; W_2 \in \mathbb{R}^{" + f"{c}\\times{hidden}" + "}",
        f"{hidden} -> {c}",
        f"{steps.parameters['fc2']:,} parameters",
        "A second layer maps them back to one number per channel: a score of how useful "
        "the channel is for this input.",
        step_bars(steps.fc2, axis_title="channel c: FC2 output"),
        "lesson_fc2",
    )
    gate = {
        "Sigmoid": r"s = \sigma(\cdot) = \frac{1}{1 + e^{-(\cdot)}}",
        "Tanh": r"s = \tanh(\cdot)",
    }
    _step(
        "4. Gate: the excitations s",
        gate.get(steps.gate, r"s = \mathrm{ReLU}(\cdot)"),
        f"{c}, each in 0..1",
        "0 parameters",
        "The sigmoid squashes each score into 0..1: the channel's weight. Red: the "
        f"{HIGHLIGHTED} channels kept most; blue: the {HIGHLIGHTED} cut most.",
        step_bars(
            steps.excitation, axis_title="channel c: s_c", highlight=marks, value_range=(0, 1)
        ),
        "lesson_gate",
        ("gate",),
    )
    st.markdown("**5. Scale**: every channel is multiplied by its weight")
    st.latex(r"\tilde{x}_c = s_c \cdot u_c")
    st.caption(
        f"shape {c} x {h} x {w} · 0 parameters · on average this input keeps "
        f"{percent(np.mean(steps.excitation))} of each channel of this block"
    )
    before, after = st.columns(2)
    with before:
        st.caption(f"before: U ({c} x {h} x {w})")
        st.plotly_chart(
            channel_montage(steps.feature_maps, zmax=zmax, highlight=marks, height=260),
            key="lesson_before",
            config={"displayModeBar": False},
        )
    with after:
        st.caption("after: s · U, on the same colour scale")
        st.plotly_chart(
            channel_montage(steps.scaled, zmax=zmax, highlight=marks, height=260),
            key="lesson_after",
            config={"displayModeBar": False},
        )
    st.markdown(
        f"Kept most (red frames): channels {', '.join(f'{i} (s = {steps.excitation[i]:.2f})' for i in kept)}. "
        f"Cut most (blue): {', '.join(f'{i} (s = {steps.excitation[i]:.2f})' for i in cut)}. "
        "The next layer sees the right-hand maps: the block has turned some channels down "
        "for this input, and a different input gets different weights."
    )


dataset = dataset_info(active_dataset())
st.title("How SE works")
st.markdown(
    "A **Squeeze-and-Excitation (SE) block** lets a convolutional network reweight its "
    "channels for each input: it *squeezes* every channel to one number, *excites* them "
    "through two small layers into one weight per channel, and *scales* each channel by "
    "its weight.",
    help=explain("SE block", "squeeze", "excitation"),
)

directory = active_model_dir()
try:
    models = load_models(directory)
except CheckpointError as error:
    st.error(f"The models in '{directory}' could not be loaded: {error}")
    st.stop()
senet, senet_record = models["senet"]
tables = _layer_tables(dict(senet_record["model"]))

st.header("1. Where the SE blocks sit", divider="gray", help=explain("SE block"))
diagram, costs = st.columns([2, 1], gap="large")
with diagram:
    st.graphviz_chart(
        architecture_dot(
            {MODEL_TITLES[name]: rows for name, rows in tables.items()},
            colors={MODEL_TITLES[name]: MODEL_COLORS[name] for name in tables},
        ),
        width="content",
    )
with costs:
    _costs(tables)
    st.caption(
        "Both networks are the original study's layout; the SENet adds one SE block after "
        "each stage's second convolution, before the pooling. Everything else is identical, "
        "so any difference between them comes from the SE blocks."
    )
with st.expander("Every layer in numbers"):
    st.dataframe(
        [
            {
                "network": MODEL_TITLES[name],
                "layer": row.title,
                "output (per image)": " x ".join(map(str, row.output_shape)),
                "parameters": row.parameters,
                "FLOPs": row.flops,
            }
            for name, rows in tables.items()
            for row in rows
        ],
        hide_index=True,
    )

st.header("2. One SE block, step by step", divider="gray")
se_rows = [row for row in tables["senet"] if row.is_se]
controls, thumbnail = st.columns([5, 1], vertical_alignment="bottom")
with controls:
    block_number = st.segmented_control(
        "SE block (1: early, 3: deepest)",
        list(range(1, len(se_rows) + 1)),
        default=1,
        key="block",
        bind="query-params",
        required=True,
    )
    picked = _pick_input(dataset.key)
if picked is not None:
    image, label = picked
    with thumbnail:
        st.plotly_chart(
            digit_pixels(
                np.asarray(image, dtype=float) / (255.0 if image.dtype == np.uint8 else 1.0),
                height=110,
            ),
            key="lesson_input",
            config={"displayModeBar": False, "staticPlot": True},
        )
    steps = explain_se_block(
        senet, image, se_rows[int(block_number or 1) - 1].name, dataset=dataset.key
    )
    _walkthrough(steps, label, dataset.class_names)

st.header("3. Why the paper proposed it", divider="gray")
paper = PAPER_HEADLINE
st.markdown(
    "A convolution only sees a small neighbourhood, and it treats all of its input channels "
    "the same for every image. Hu et al. (2018) added SE blocks so that a network can use "
    "the whole image to decide which channels matter for *this* input. On ImageNet, "
    f"SE-{paper['model']} cut the top-1 error from {paper['top1_error']:.2f} % to "
    f"{paper['se_top1_error']:.2f} % for +{paper['extra_flops_percent']:.2f} % FLOPs "
    f"({paper['gflops']} -> {paper['se_gflops']} GFLOPs; Table 2 of arXiv:1709.01507), "
    "and SE networks won the ILSVRC 2017 classification challenge."
)
_link(
    "app_pages/results.py",
    label=f"On {dataset.title}, does it help? See Does SE help?",
    icon=":material/arrow_forward:",
)
if not presenter_mode():
    glossary_expander()
