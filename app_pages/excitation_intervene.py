"""The SE excitation explorer's Intervene tab.

Not a page of its own: `app_pages/excitation.py` calls `show_interventions`. Every
intervention runs on a private copy of the shared SENet (`se_demo.analysis.interventions`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from app_pages.excitation_context import ChosenInput, Explorer, class_view, run_senet
from app_pages.resources import (
    data_dir_label,
    load_models,
    load_results,
    load_saved_channel_effects,
    load_test_split,
    saved_key,
)
from app_pages.run_choice import selected_run
from se_demo.analysis.channel_effects import saved_accuracy
from se_demo.analysis.excitation_text import (
    describe_interventions,
    explain_switch_off,
    format_probability,
    intervention_rows,
    network_label,
)
from se_demo.analysis.interventions import (
    INTERVENTION_MODES,
    SUBSET_SIZE,
    Intervention,
    SubsetAccuracy,
    intervened_model,
    stratified_subset,
    subset_accuracy,
)
from se_demo.core.registry import InterventionMode, ModelKind
from se_demo.figures.draw import excitation_bars, probability_bars
from se_demo.words import explain, percent

SUGGESTED = 5  # channels offered first: those whose removal changes the accuracy most


def _subset_accuracy(
    directory: Path, interventions: tuple[Intervention, ...]
) -> tuple[SubsetAccuracy, float]:
    """The intervened SENet's accuracy on the fixed subset, and the trained one's there."""
    key = saved_key(directory, ModelKind.SENET, "evaluation")
    return _measure_subset(str(directory), key, interventions)


# Each setting a student measures adds an entry: a bounded cache, keyed by the files' content.
@st.cache_data(show_spinner="Measuring on a stratified subset of the test set...", max_entries=64)
def _measure_subset(
    directory: str, key: tuple[str, ...], interventions: tuple[Intervention, ...]
) -> tuple[SubsetAccuracy, float]:
    senet = load_models(Path(directory))[ModelKind.SENET]
    split = load_test_split(senet.dataset.key)
    assert split is not None
    results = load_results(Path(directory))
    indices = stratified_subset(results.labels)
    means = class_view(directory)[2]
    measured = subset_accuracy(
        senet.model,
        interventions,
        split.images,
        split.labels,
        indices,
        means,
        config=senet.config,
        dataset=senet.dataset.key,
    )
    trained = float(
        np.mean(results.predictions(ModelKind.SENET)[indices] == results.labels[indices])
    )
    return measured, trained


def _choose_channel(explorer: Explorer, block: str) -> tuple[int, float]:
    """A channel of ``block`` (the measured most effective first) and a factor for it."""
    effects = (load_saved_channel_effects(explorer.directory) or {}).get(block)
    channels = explorer.saved[block].shape[1]
    if effects is None:
        order, described = list(range(channels)), {}
        st.caption(
            "No measured channel effects are saved for this checkpoint; create them with "
            f"`python -m se_demo channels --dataset {explorer.dataset.key}`."
            if selected_run() is None
            else "A lab run does not measure each channel's effect (minutes of testing), so "
            "its channels are listed in order, with none suggested."
        )
    else:
        suggested = [e.channel for e in effects[:SUGGESTED]]
        order = suggested + sorted(set(range(channels)) - set(suggested))
        described = {
            e.channel: f": without it {percent(e.accuracy, 2)} test accuracy "
            f"({100 * e.change:+.2f} pp)"
            for e in effects
        }
    channel = st.selectbox(
        f"Channel (first the {SUGGESTED} whose removal changes the test accuracy most)",
        order,
        format_func=lambda c: f"channel {c}{described.get(c, '')}",
        key=explorer.key(f"exc_int_channel_{block}"),
    )
    scale = st.slider("Scale its excitation by", 0.0, 3.0, 0.0, 0.05, key="exc_int_scale")
    return int(channel), float(scale)


def _show_prediction(
    explorer: Explorer,
    chosen: ChosenInput,
    interventions: list[Intervention],
    targets: tuple[str, ...],
    label: str,
) -> None:
    names, senet = explorer.class_names, explorer.senet
    overall = class_view(str(explorer.directory))[2]
    excitation, logits = run_senet(senet.model, chosen.image)
    changed = intervened_model(senet.model, interventions, overall, config=senet.config)
    changed_excitation, changed_logits = run_senet(changed, chosen.image)
    before, after = (
        torch.softmax(torch.from_numpy(x), 0).numpy() for x in (logits, changed_logits)
    )
    lines = [f"Input: {chosen.described}."]
    shown = {"SENet as trained": before, label: after} if interventions else {label: before}
    for title, probabilities in shown.items():
        top = int(probabilities.argmax())
        probability = format_probability(float(probabilities[top]))
        lines.append(f"{title}: **{names[top]}** (probability {probability})")
    st.markdown("  \n".join(lines))
    if interventions and interventions[0].mode == InterventionMode.OFF:
        stacked = np.concatenate([excitation[b] for b in targets])
        st.markdown(explain_switch_off(targets, stacked, logits, changed_logits, names))
    bars: dict[str, np.ndarray] = {ModelKind.SENET: before}
    if interventions:
        bars["changed"] = after
    st.plotly_chart(
        probability_bars(
            bars, titles={ModelKind.SENET: "SENet as trained", "changed": label}, class_names=names
        ),
        key="exc_int_probabilities",
    )
    with st.expander("Excitations with the intervention (marks: as trained)"):
        st.plotly_chart(
            excitation_bars(
                changed_excitation,
                reference=excitation,
                reference_label="as trained",
                label=label,
                height_per_block=110,
            ),
            key="exc_int_bars",
        )


def _show_accuracy(
    explorer: Explorer, interventions: list[Intervention], targets: tuple[str, ...], label: str
) -> None:
    trained = explorer.results.metrics(ModelKind.SENET)["accuracy"]
    images = f"{len(explorer.results.labels):,} test images"
    if not interventions:
        st.metric("Test accuracy, SENet as trained", percent(trained, 2), help=f"all {images}")
        return
    saved = saved_accuracy(
        explorer.results.record["models"][ModelKind.SENET],
        load_saved_channel_effects(explorer.directory),
        targets,
        interventions[0],
    )
    if saved is not None:
        st.metric(
            f"Test accuracy, {label}", percent(saved, 2), f"{100 * (saved - trained):+.2f} pp"
        )
        st.caption(
            f"On all {images}, measured once for this checkpoint and saved (as trained: "
            f"{percent(trained, 2)}); the change is in percentage points."
        )
        return
    if explorer.split is None:
        st.info(
            f"The test-set accuracy of this intervention needs the {explorer.dataset.title} "
            f"test images, which are not available at {data_dir_label()}."
        )
        return
    settings = tuple(interventions)
    if st.button(f"Measure on {SUBSET_SIZE:,} test images (about 1 s)", key="exc_int_run"):
        st.session_state["exc_int_requested"] = settings
    if st.session_state.get("exc_int_requested") != settings:
        return
    measured, trained_here = _subset_accuracy(explorer.directory, settings)
    within = measured.contains(trained)  # no measurable change: not drawn as a loss or gain
    st.metric(
        f"Test accuracy, {label}",
        percent(measured.accuracy, 1),
        f"{100 * (measured.accuracy - trained_here):+.1f} pp",
        delta_color="off" if within else "normal",
        delta_arrow="off" if within else "auto",
    )
    st.caption(
        f"On a fixed subset of {measured.total:,} of the {images}, stratified by class: "
        f"{measured.correct:,} right. 95 % confidence interval (Wilson) for the accuracy on "
        f"the whole test set: {percent(measured.low, 1)} to "
        f"{percent(measured.high, 1)}. The SENet as "
        f"trained gets {percent(trained_here, 1)} of the same images right"
        + (
            f" and {percent(trained, 2)} of all of them, inside the interval: no measurable change."
            if within
            else "."
        )
    )


def _show_saved_table(explorer: Explorer) -> None:
    trained = explorer.results.metrics(ModelKind.SENET)["accuracy"]
    summary = explorer.results.record["models"][ModelKind.SENET]
    rows = intervention_rows(summary)
    st.markdown(
        "**What each block's excitation is worth**, measured once for this checkpoint on "
        f"the {len(explorer.results.labels):,} test images (as trained: {percent(trained, 2)})"
    )
    if not rows:
        st.info(
            "This evaluation has no saved intervention results; create them with "
            f"`python -m se_demo evaluate --dataset {explorer.dataset.key}`."
            if selected_run() is None
            else "This lab run's interventions are measured after its training ends and "
            "appear here once they are saved."
        )
        return
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
    st.markdown(describe_interventions(summary), help=explain("pp"))
    st.caption(
        "SE off: excitations forced to 1. That is the SENet with its SE layers removed, "
        "not the Basic CNN: the Basic CNN was trained without SE, these weights with it. "
        "Mean excitation: each channel always gets its test-set mean, so the block no "
        "longer depends on the input; the gap to SE off shows what the average scaling "
        "does, the gap to the trained model what input dependence adds."
    )


def show_interventions(explorer: Explorer, block: str, chosen: ChosenInput | None) -> None:
    """The Intervene tab: change the chosen block's excitation on a private copy."""
    st.caption(
        "Change the chosen block's excitation on a private copy of the SENet (the shared "
        "model that other sessions use is never touched) and see what it does to the "
        "prediction of the input chosen under *One input* and to the test-set accuracy."
    )
    mode = st.radio(
        "Intervention",
        ["none", *INTERVENTION_MODES],
        format_func=lambda m: "none (as trained)" if m == "none" else INTERVENTION_MODES[m],
        horizontal=True,
        key="exc_int_mode",
    )
    targets: tuple[str, ...] = (block,)
    channel, scale = None, 1.0
    if mode in ("off", "mean") and st.toggle("In every SE block at once", key="exc_int_all"):
        targets = tuple(explorer.blocks)
    if mode == "scale":
        channel, scale = _choose_channel(explorer, block)
    interventions = (
        []
        if mode == "none"
        else [Intervention(b, InterventionMode(mode), channel, scale) for b in targets]
    )
    label = network_label(targets, mode, channel, scale) if interventions else "SENet as trained"
    if mode == "off":  # the one a student could take for the Basic CNN
        st.markdown(
            f"The network below: **{network_label(targets, mode, channel, scale, short=False)}**."
        )
    if chosen is None:
        st.info("Choose an input under *One input* to see its prediction change.")
    else:
        _show_prediction(explorer, chosen, interventions, targets, label)
    _show_accuracy(explorer, interventions, targets, label)
    _show_saved_table(explorer)
