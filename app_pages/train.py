"""Training lab: train the models from the dashboard and pick a run for the other pages."""

from __future__ import annotations

import streamlit as st

from app_pages.resources import active_dataset, active_model_dir
from se_demo.config import (
    CHECKPOINT_DIR,
    DATASETS,
    GATES,
    SQUEEZE_OPERATORS,
    ModelConfig,
    TrainConfig,
)
from se_demo.jobs import TrainingBusyError, TrainingJob, list_runs
from se_demo.plots import training_curves
from se_demo.results import MODEL_TITLES

dataset = active_dataset()
st.title("Training lab")
st.markdown(
    f"Train the basic CNN and/or the SENet on **{DATASETS[dataset].title}** with your own "
    "settings, through the same training loop as `python -m se_demo train`. Finished runs are "
    "saved under `runs/` (the shipped checkpoints are never touched) and can be shown on the "
    "other pages. One run trains at a time on this server."
)

defaults = TrainConfig()
with st.form("train_form"):
    left, middle, right = st.columns(3)
    with left:
        models = st.radio(
            "Models",
            ["both", "senet", "cnn"],
            key="train_models",
            horizontal=True,
            format_func=lambda m: "both" if m == "both" else MODEL_TITLES[m],
        )
        epochs = st.slider("Epochs", 1, 10, 2, key="train_epochs")
        images = st.select_slider(
            "Training images",
            [1_000, 5_000, 10_000, 30_000, 60_000],
            10_000,
            key="train_images",
            help="fewer images train faster; 60,000 is the full set",
        )
    with middle:
        lr = st.select_slider(
            "Peak learning rate",
            [3e-4, 1e-3, 3e-3, 1e-2],
            defaults.lr,
            key="train_lr",
            format_func=lambda v: f"{v:g}",
        )
        batch_size = st.select_slider(
            "Batch size", [32, 64, 128, 256], defaults.batch_size, key="train_batch"
        )
        seed = st.number_input("Seed", 0, 10_000, 0, key="train_seed")
    with right:
        reduction = st.selectbox(
            "SE reduction ratio r", [1, 2, 4, 8, 16], index=1, key="train_reduction"
        )
        squeeze = st.selectbox("SE squeeze", SQUEEZE_OPERATORS, key="train_squeeze")
        gate = st.selectbox("SE gate", GATES, key="train_gate")
    start = st.form_submit_button("Start training", type="primary")

job: TrainingJob | None = st.session_state.get("training_job")
if start:
    if job is not None and job.status().state == "running":
        st.warning("Your run is still training: stop it first.")
    else:
        job = TrainingJob(
            ("cnn", "senet") if models == "both" else (models,),
            ModelConfig(reduction_ratio=reduction, squeeze=squeeze, gate=gate),
            TrainConfig(
                epochs=epochs,
                train_subset=images,
                lr=lr,
                batch_size=batch_size,
                seed=int(seed),
                dataset=dataset,
            ),
        )
        try:
            job.start()
            st.session_state["training_job"] = job
        except TrainingBusyError as error:
            st.warning(str(error))
            job = None


def show_progress() -> None:
    """Progress bar, live curves and the stop button of this session's run."""
    current: TrainingJob = st.session_state["training_job"]
    status = current.status()
    if status.state == "running":
        p = status.progress
        if p is None:
            st.progress(0.0, text="loading data...")
        else:
            done = ((p.epoch - 1) * p.steps_per_epoch + p.step) / (
                current.train_config.epochs * p.steps_per_epoch
            )
            st.progress(
                min(done, 1.0),
                text=f"{MODEL_TITLES[status.model or 'cnn']}: epoch {p.epoch}, step {p.step}/"
                f"{p.steps_per_epoch}, loss {p.loss:.4f}, accuracy {p.accuracy:.4f}, "
                f"{p.images_per_second:.0f} images/s. {status.message}",
            )
        if st.button("Stop training", key="stop_training"):
            current.stop()
    elif status.state == "finished":
        st.success(f"Training finished: {status.message}.", icon=":material/check_circle:")
    elif status.state == "stopped":
        st.info(f"Training {status.message}.")
    else:
        st.error(f"Training failed: {status.message}")
    if status.curve:
        st.plotly_chart(training_curves(status.curve), key="training_curves")
    if status.state != "running" and st.session_state.get("shown_state") == "running":
        st.session_state["shown_state"] = status.state
        st.rerun()  # refresh the list of runs below
    st.session_state["shown_state"] = status.state


if job is not None:
    running = job.status().state == "running"
    st.fragment(run_every=1.0 if running else None)(show_progress)()

st.subheader("Finished runs")
runs = list_runs(dataset)
if not runs:
    st.caption("No runs yet for this dataset.")
else:
    st.dataframe(
        [
            {
                "run": run.name,
                "trained": ", ".join(MODEL_TITLES[m] for m in run.trained),
                "CNN accuracy": run.accuracy["cnn"],
                "SENet accuracy": run.accuracy["senet"],
                "epochs": run.train["epochs"],
                "images": run.train["train_subset"] or 60_000,
                "SE": f"r={run.model['reduction_ratio']}, {run.model['squeeze']}, {run.model['gate']}",
            }
            for run in runs
        ],
        hide_index=True,
        key="runs_table",
    )
    shipped = str(CHECKPOINT_DIR / dataset)
    options = [shipped] + [str(run.path) for run in runs]
    current = str(active_model_dir())
    choice = st.selectbox(
        "Models shown on the other pages",
        options,
        index=options.index(current) if current in options else 0,
        format_func=lambda path: (
            "shipped checkpoints" if path == shipped else path.rsplit("/", 1)[-1]
        ),
        key="model_source_choice",
        help="A run that trained one model pairs it with the shipped other model.",
    )
    selected = None if choice == shipped else choice
    if st.session_state.get("model_dir") != selected:
        st.session_state["model_dir"] = selected
        st.rerun()
