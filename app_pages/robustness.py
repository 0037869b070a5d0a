"""Robustness: do the CNN and the SENet survive corrupted images (MNIST-C style)?

Everything comes from the saved sweep (`python -m se_demo robustness`); no model runs
here. The example images are corrupted again with NumPy, with the sweep's seed, so they
are the very images the models answered.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.presentation import link_to_page
from app_pages.resources import (
    active_dataset,
    active_model_dir,
    data_dir_label,
    load_sweep,
    load_test_images,
)
from app_pages.run_choice import back_to_shipped_button, nothing_for_the_run, selected_run
from se_demo.analysis.results import RIGHT, WRONG
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.datafiles import split_checksum
from se_demo.core.registry import MODEL_TITLES, DatasetInfo, dataset_info
from se_demo.figures.common import PIXEL_SCALE, pixels_png
from se_demo.figures.robustness import difference_heatmap, excitation_shift_bars, severity_curves
from se_demo.robustness.corruptions import corrupt
from se_demo.robustness.results import (
    ALPHA,
    FIRST,
    SECOND,
    Robustness,
    example_lines,
    example_positions,
    verdict,
)
from se_demo.words import explain

EXAMPLES = 8


@st.cache_data(max_entries=32, show_spinner="Corrupting the test images...")
def _corrupted(dataset: str, name: str, severity: int, seed: int, every: int) -> np.ndarray:
    test = load_test_images(dataset)
    assert test is not None  # checked by the caller
    return corrupt(test[0][::every], name, severity, seed)


def _load(dataset: str, info: DatasetInfo) -> Robustness:
    """The saved sweep of the models shown; the page ends where there is none."""
    run = selected_run()
    if run is not None and not (run / "robustness.json").is_file():
        nothing_for_the_run(
            f"The lab run {run.name} has no robustness sweep: it takes minutes of testing on "
            "corrupted images that a lab run does not do, so this page has nothing for it.",
            key="robustness_back_to_shipped",
        )
    try:
        return load_sweep(active_model_dir())
    except CheckpointError as error:
        st.error(
            f"The saved robustness sweep of these models cannot be read: {error}. Create it "
            f"with `python -m se_demo robustness --dataset {dataset}`."
        )
        if run is not None:
            back_to_shipped_button("robustness_back_to_shipped")
        st.stop()


def _summary(sweep: Robustness) -> None:
    """Each model's mean accuracy under corruption, and how many settings differ."""
    record = sweep.record
    summary = record["summary"]
    tests = record["mcnemar"]
    differing = [t for t in tests if t["p_holm"] < ALPHA]
    columns = st.columns(3)
    for column, model in zip(columns, (FIRST, SECOND), strict=False):
        column.metric(
            f"{MODEL_TITLES[model]}, corrupted",
            f"{100 * summary[model]['mean']:.1f} %",
            help=(
                "Mean accuracy over every corruption and severity. Below it, the change from "
                "the clean test images in percentage points (pp): clean accuracy on these "
                f"images {100 * summary[model]['clean']:.2f} %, so a relative drop of "
                f"{100 * summary[model]['relative_drop']:.1f} % ((clean - corrupted) / clean). "
                + explain("pp")
            ),
            delta=f"{100 * (summary[model]['mean'] - summary[model]['clean']):+.1f} pp vs clean",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
    columns[2].metric(
        "Settings that differ",
        f"{len(differing)} of {len(tests)}",
        help="Corruption and severity settings where the two models differ: paired McNemar "
        "tests, one per setting, Holm-corrected over all of them.",
        border=True,
    )


def _everywhere(sweep: Robustness) -> None:
    """The difference of the two models at every setting, and accuracy against severity."""
    st.subheader("SENet minus CNN, everywhere at once")
    st.plotly_chart(difference_heatmap(sweep), key="robustness_heatmap", width="stretch")
    st.caption(
        "Each cell: SENet's accuracy minus the CNN's on the same corrupted images, in "
        "percentage points (pp); red: SENet is right more often, blue: the CNN. A star marks "
        f"a paired McNemar test with Holm-adjusted p < {ALPHA}: over all "
        f"{len(sweep.record['mcnemar'])} cells, the chance of even one false star is below "
        "5 %. A star says these two trained models differ on that corrupted test set; one "
        "trained model of each kind cannot say whether SE makes models robust in general.",
        help=explain("pp", "McNemar's test"),
    )
    st.subheader("Accuracy against severity")
    st.plotly_chart(severity_curves(sweep), key="robustness_curves", width="stretch")


def _examples(sweep: Robustness, info: DatasetInfo, name: str, severity: int) -> None:
    """The corrupted test images, those where the models disagree first, with both answers."""
    record = sweep.record
    test = load_test_images(info.key)
    if test is None:
        st.warning(
            f"The {info.title} test images are not on disk (looked under {data_dir_label()}), "
            "so the corrupted examples cannot be drawn; everything else comes from the saved "
            "sweep."
        )
        return
    if split_checksum(*test) != record["data_sha256"]:
        st.warning(
            f"The {info.title} test set under {data_dir_label()} is not the one the sweep used "
            "(its checksum differs), so its images are not shown beside the saved answers."
        )
        return
    images = _corrupted(info.key, name, severity, record["seed"], record["every"])
    st.markdown(
        f"**{EXAMPLES} of the {record['test_images']:,} images at severity {severity}**, those "
        f"where the models disagree first, with each model's saved answer ({RIGHT} right, "
        f"{WRONG} wrong)."
    )
    positions = example_positions(sweep, name, severity, EXAMPLES)
    for column, position in zip(st.columns(EXAMPLES), positions, strict=False):
        label = int(sweep.labels[position])
        column.image(
            pixels_png(images[position]), width=28 * PIXEL_SCALE,
            alt=f"test image {int(sweep.indices[position])}, "
            f"{record['corruptions'][name]['title'].lower()} at severity {severity}, "
            f"true class {info.class_names[label]}",
        )  # fmt: skip
        lines = example_lines(sweep, name, severity, position, info.class_names)
        column.caption("  \n".join(lines))


def _excitation_shift(sweep: Robustness, name: str, severity: int) -> None:
    """How far the corruption moves the SE blocks' class-mean excitations."""
    st.markdown(
        "**Do the SE blocks' excitations move under this corruption?**",
        help=explain("SE block", "excitation"),
    )
    excitation = sweep.record["excitation"]
    shift_chart, reading = st.columns([3, 2], vertical_alignment="center")
    shift_chart.plotly_chart(
        excitation_shift_bars(
            excitation["blocks"],
            sweep.excitation_shift[sweep.row(name, severity)],
            excitation["between_class"],
        ),
        key="robustness_shift",
        width="stretch",
    )
    with reading:
        st.markdown(
            "For each SE block: the root-mean-square difference between the class-mean "
            "excitations of the SENet on the clean images and on these corrupted ones (the "
            f"{sweep.record['test_images']:,} images, grouped by true class). The black mark "
            "is how far the clean class means lie from their common mean: a bar above it "
            "means the corruption moves the excitations more than the classes differ from "
            "each other."
        )
        if any(t["p_holm"] < ALPHA for t in sweep.tests(name)):
            link_to_page(
                "app_pages/excitation.py",
                label="What SE learned: the excitation view",
                icon=":material/biotech:",
            )


def _up_close(sweep: Robustness, info: DatasetInfo) -> None:
    """One corruption at one severity: the verdict, example images, the excitations' shift."""
    st.subheader("One corruption up close")
    record = sweep.record
    pick = st.columns([2, 2])
    name = pick[0].selectbox(
        "Corruption",
        list(record["corruptions"]),
        format_func=lambda key: record["corruptions"][key]["title"],
        key="robustness_corruption",
    )
    severity = pick[1].select_slider(
        "Severity",
        options=record["severities"],
        value=record["severities"][-1],
        key="robustness_severity",
    )
    finding = verdict(sweep, name)
    (st.success if any(t["p_holm"] < ALPHA for t in sweep.tests(name)) else st.info)(finding)
    _examples(sweep, info, name, severity)
    _excitation_shift(sweep, name, severity)


def main() -> None:
    """The Robustness page."""
    dataset = active_dataset()
    info = dataset_info(dataset)
    st.title(f"Robustness: corrupted {info.title} test images")
    sweep = _load(dataset, info)
    record = sweep.record
    st.caption(
        f"Both models on {len(record['corruptions'])} corruptions after MNIST-C (Mu and "
        f"Gilmer, 2019) at three severities each, on {record['test_images']:,} test images "
        f"(every {record['every']}th), random seed {record['seed']}; read from the saved "
        "sweep, nothing is recomputed."
    )
    _summary(sweep)
    _everywhere(sweep)
    _up_close(sweep, info)


main()
