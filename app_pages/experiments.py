"""Seeds and ablations: is SE's effect real, and which of its design choices matter?"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.resources import active_dataset
from app_pages.run_choice import back_to_shipped_button, selected_run
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.registry import DATASETS
from se_demo.figures.experiments import ablation_bars, seed_comparison
from se_demo.training.experiment_results import (
    budget_line,
    format_ablation_markdown,
    format_comparison_markdown,
    load_experiment,
)
from se_demo.words import explain


def show_comparison(folder: Path, dataset: str) -> None:
    """The saved multi-seed comparison of both models, or the command that makes it."""
    st.header("Multi-seed comparison")
    comparison = load_experiment(folder, "comparison")
    if comparison is None:
        st.info(
            f"No saved comparison for {DATASETS[dataset].title} yet: run "
            f"`python -m se_demo compare --dataset {dataset}`."
        )
        return
    st.markdown(f"**{comparison['summary']}**")
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            format_comparison_markdown(comparison, with_summary=False),
            help=explain("Wilcoxon", "pp"),
        )
    with right:
        st.plotly_chart(seed_comparison(comparison), key="seed_comparison")
    st.caption(budget_line(comparison))


def show_ablation(folder: Path, dataset: str) -> None:
    """The saved ablation of the SE settings beside the paper's, or the command that makes it."""
    st.header("Ablations (the paper's Tables 10-12)")
    ablation = load_experiment(folder, "ablation")
    if ablation is None:
        st.info(
            f"No saved ablation for {DATASETS[dataset].title} yet: run "
            f"`python -m se_demo ablate --dataset {dataset}`."
        )
        return
    st.markdown(
        "Each variant changes one SE setting from our default (reduction ratio r = 2, mean "
        "squeeze, sigmoid gate). The paper's columns are SE-ResNet-50 on ImageNet (top-1/top-5 "
        "error, %), for reference: a different network and task, so compare the *ordering*, "
        "not the numbers. Their *no SE* row is the paper's ResNet-50 trained with the "
        "ablation study's own setting, which is why its error is not the Table 2 one that "
        "the lesson quotes.",
        help=explain("reduction ratio", "squeeze", "gate"),
    )
    st.plotly_chart(ablation_bars(ablation), key="ablation_bars")
    st.markdown(format_ablation_markdown(ablation))
    st.caption(budget_line(ablation))


def main() -> None:
    """The Seeds and ablations page."""
    dataset = active_dataset()
    folder = CHECKPOINT_DIR / dataset
    st.title("Seeds and ablations")
    st.markdown(
        f"On **{DATASETS[dataset].title}** one training run of each model, as in the original "
        "study, cannot tell whether SE helps: a different random seed moves the accuracy by "
        "about as much as SE does. Below, both models are trained over several seeds and "
        "compared pair by pair, and the SE paper's ablations are repeated on our small network."
    )
    run = selected_run()
    if run is not None:  # the experiments are their own runs, whatever run is selected
        st.caption(
            f":material/info: The lab run {run.name} is not part of these experiments: they "
            "are the saved multi-seed runs below."
        )
        back_to_shipped_button("experiments_back_to_shipped")
    show_comparison(folder, dataset)
    show_ablation(folder, dataset)


main()
