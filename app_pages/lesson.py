"""How SE works: the two networks as a diagram, then one SE block step by step on one input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from app_pages.lesson_steps import show_se_steps
from app_pages.presentation import glossary_expander, link_to_page, presenter_mode
from app_pages.resources import (
    active_dataset,
    active_model_dir,
    load_class_means,
    load_models,
    load_test_images,
)
from se_demo.analysis.lesson import PAPER_HEADLINE, LayerRow, explain_se_block, layer_table
from se_demo.core.checkpoints import Checkpoint, CheckpointError
from se_demo.core.config import ModelConfig
from se_demo.core.links import number_problem
from se_demo.core.models import build_from_config
from se_demo.core.registry import (
    MODEL_COLORS,
    MODEL_TITLES,
    DatasetInfo,
    DatasetName,
    ModelKind,
    dataset_info,
)
from se_demo.figures.draw import digit_pixels
from se_demo.figures.lesson import architecture_dot, se_placements_dot
from se_demo.words import explain, percent, with_article

DRAWING, TEST_IMAGE = "the digit you drew", "a test image"
STEPS_ANCHOR = "one-se-block"
# A link naming a block or an image opens at the step-by-step section. The charts above it
# finish drawing after it appears, so it is scrolled to again while the page settles,
# unless the reader scrolls first.
_SCROLL_TO_STEPS = f"""<script>
(() => {{
  let left = 20;
  for (const kind of ["wheel", "touchstart", "keydown", "mousedown"]) {{
    window.addEventListener(kind, () => {{ left = 0; }}, {{once: true}});
  }}
  const go = () => {{
    document.getElementById("{STEPS_ANCHOR}")?.scrollIntoView({{block: "start"}});
    if (--left > 0) setTimeout(go, 150);
  }};
  go();
}})();
</script>"""


@st.cache_data(show_spinner=False, max_entries=16)  # one entry per SE setting viewed
def _layer_tables(senet_config: dict[str, Any]) -> dict[str, list[LayerRow]]:
    """Both networks' layer tables, from models built on the meta device: the layout
    needs no weights, and nothing is initialised or drawn from torch's RNG."""
    config = ModelConfig.from_dict(senet_config)
    return {
        name: layer_table(
            build_from_config(ModelConfig(**{**senet_config, "name": name}), device="meta")
        )
        for name in (ModelKind.CNN, config.name)
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


def _class_mean_excitations(directory: Path, block: str) -> np.ndarray | None:
    """The SENet's mean excitation per class on the test set in ``block``: (classes, C).

    None for a run whose evaluation is not saved (yet).
    """
    try:
        return load_class_means(directory).get(block)
    except (CheckpointError, OSError):
        return None


def _pick_input(dataset: str) -> tuple[np.ndarray, str] | None:
    """The input to follow through the block: the Draw page's digit, or a test image."""
    drawing = st.session_state.get("current_drawing")
    sources = (
        [DRAWING, TEST_IMAGE]
        if drawing is not None and dataset == DatasetName.MNIST
        else [TEST_IMAGE]
    )
    linked = TEST_IMAGE if "image" in st.query_params else sources[0]  # a link names one
    source = st.segmented_control(
        "Input", sources, default=linked, key="lesson_source", required=True
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


def _show_architecture(tables: dict[str, list[LayerRow]]) -> None:
    """Section 1: both networks as a diagram, what SE costs, every layer in numbers."""
    st.header("1. Where the SE blocks sit", divider="gray", help=explain("SE block"))
    # On a projector the diagram takes the page's width, in large type; the costs follow it.
    diagram, costs = (
        (st.container(), st.container()) if presenter_mode() else st.columns([2, 1], gap="large")
    )
    with diagram:
        st.graphviz_chart(
            architecture_dot(
                {MODEL_TITLES[name]: rows for name, rows in tables.items()},
                colors={MODEL_TITLES[name]: MODEL_COLORS[name] for name in tables},
                large=presenter_mode(),
            ),
            width="content",
        )
    with costs:
        _costs(tables)
        st.caption(
            "Both networks are the layout of the original study, a TensorFlow repository that "
            "trained these two networks for 100 epochs (Adam, learning rate 1e-4, batch 32) and "
            "reported their MNIST test metrics. The SENet adds one SE block after each stage's "
            "second convolution, before the pooling. Everything else is identical, so any "
            "difference between them comes from the SE blocks.",
            help=explain("original study"),
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


def _check_link(blocks: int, dataset: str) -> None:
    """Warn about a link's block or image that does not exist; scroll to the steps when a
    link names one (on arriving at the page only)."""
    asked = {name: st.query_params.get(name) for name in ("block", "image")}  # before the widgets
    test_images = load_test_images(dataset)
    for problem in (
        number_problem("block", asked["block"], 1, blocks, "an SE block", f"block {blocks}"),
        number_problem(
            "image", asked["image"], 0, len(test_images[1]) - 1, "a test image", "test image 0"
        )
        if test_images is not None
        else None,
    ):
        if problem:
            st.warning(problem, icon=":material/link_off:")
    if st.session_state.get("arrived_on_page", True) and any(asked.values()):
        st.html(_SCROLL_TO_STEPS, unsafe_allow_javascript=True)  # our own script, no input in it


def _show_steps(
    senet: Checkpoint, se_rows: list[LayerRow], dataset: DatasetInfo, directory: Path
) -> None:
    """Section 2: one SE block, step by step, on the drawing or a test image."""
    st.header("2. One SE block, step by step", divider="gray", anchor=STEPS_ANCHOR)
    _check_link(len(se_rows), dataset.key)
    controls, thumbnail = st.columns([5, 1], vertical_alignment="bottom")
    with controls:
        block_number = st.segmented_control(
            "SE block (1: early, 3: deepest)",
            list(range(1, len(se_rows) + 1)),
            default=len(se_rows),  # the deepest block, where SE is most selective
            key="block",
            bind="query-params",
            required=True,
        )
        picked = _pick_input(dataset.key)
    if picked is None:
        return
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
    block = se_rows[int(block_number or len(se_rows)) - 1].name
    steps = explain_se_block(senet.model, image, block, dataset=senet.dataset.key)
    means = _class_mean_excitations(directory, block)
    show_se_steps(
        steps, label, dataset.class_names, class_means=means, one_at_a_time=presenter_mode()
    )


def _show_paper(dataset: DatasetInfo) -> None:
    """Section 3: the paper's reason for SE, its ImageNet numbers, where SE sits in a ResNet."""
    st.header("3. Why the paper proposed it", divider="gray")
    paper = PAPER_HEADLINE
    st.markdown(
        "A convolution only sees a small neighbourhood, and it treats all of its input channels "
        "the same for every image. Hu et al. (2018) added SE blocks so that a network can use "
        "the whole image to decide which channels matter for *this* input. On ImageNet, "
        f"SE-{paper['model']} cut the top-1 error from {paper['top1_error']:.2f} % to "
        f"{paper['se_top1_error']:.2f} % for +{paper['extra_flops_percent']:.2f} % FLOPs "
        f"({paper['gflops']} -> {paper['se_gflops']} GFLOPs), "
        "and SE networks won the ILSVRC 2017 classification challenge."
    )
    st.caption(
        f"Where the numbers come from: Table 2 of arXiv:1709.01507, single-crop top-1 error on "
        f"the ImageNet validation set, {paper['model']} as the authors re-implemented and "
        "trained it, with and without SE. The paper's ablation tables (Tables 10-12, repeated "
        "on the Seeds and ablations page) use a different training setting for their "
        f"experiments, so their {paper['model']} reaches {paper['ablation_top1_error']:.2f} % "
        f"and SE-{paper['model']} {paper['ablation_se_top1_error']:.2f} %: compare numbers "
        "within one table, never across the two."
    )
    st.markdown(
        "The SE-ResNet-50 of these numbers places its SE blocks differently from our network: "
        "in a residual block, SE rescales the residual branch *before* it is added to the "
        "identity shortcut (the paper's Fig. 3), so the shortcut always passes unchanged. Our "
        "plain CNN has no shortcut, and its SE block rescales the stage's whole output."
    )
    st.graphviz_chart(se_placements_dot(large=presenter_mode()), width="content")
    link_to_page(
        "app_pages/results.py",
        label=f"On {dataset.title}, does it help? See Does SE help?",
        icon=":material/arrow_forward:",
    )


def main() -> None:
    """The lesson page."""
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
    senet = models[ModelKind.SENET]
    tables = _layer_tables(dict(senet.record["model"]))
    _show_architecture(tables)
    _show_steps(senet, [row for row in tables[ModelKind.SENET] if row.is_se], dataset, directory)
    _show_paper(dataset)
    if not presenter_mode():
        glossary_expander()


main()
