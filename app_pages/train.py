"""Training lab: train the models from the dashboard and pick a run for the other pages."""

from __future__ import annotations

import time

import streamlit as st

from app_pages.resources import active_dataset, active_model_dir, training_registry
from se_demo.config import CHECKPOINT_DIR, ModelConfig, TrainConfig
from se_demo.figures.training import training_curves
from se_demo.jobs import ACTIVE, Job, JobState, describe_wait, new_owner_token, queue_rows
from se_demo.registry import DATASETS, GATES, MODEL_TITLES, SQUEEZES, ModelKind
from se_demo.runs import RunRequest, list_runs
from se_demo.verdicts import undertrained_note
from se_demo.words import explain, percent

dataset = active_dataset()
st.title("Training lab")
st.markdown(
    f"Train the basic CNN and/or the SENet on **{DATASETS[dataset].title}** with your own "
    "settings, through the same training loop as `python -m se_demo train`. Finished runs are "
    "saved under `runs/` (the shipped checkpoints are never touched) and can be shown on the "
    "other pages. Runs from every session on this server wait in one queue and train one "
    "at a time; yours goes on if you close this tab."
)

defaults = TrainConfig()
with st.form("train_form"):
    left, middle, right = st.columns(3)
    with left:
        models = st.radio(
            "Models",
            ["both", ModelKind.SENET, ModelKind.CNN],
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
            "SE reduction ratio r",
            [1, 2, 4, 8, 16],
            index=1,
            key="train_reduction",
            help=explain("reduction ratio"),
        )
        squeeze = st.selectbox("SE squeeze", SQUEEZES, key="train_squeeze", help=explain("squeeze"))
        gate = st.selectbox("SE gate", GATES, key="train_gate", help=explain("gate"))
    start = st.form_submit_button("Queue this run", type="primary")

registry = training_registry()
owner = st.session_state.setdefault("owner_token", new_owner_token())
if start:
    request = RunRequest(
        (ModelKind.CNN, ModelKind.SENET) if models == "both" else (models,),
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
    st.session_state["my_run"] = registry.submit(request, owner)


def _progress_line(job: Job) -> str:
    p = job.progress
    if p is None:
        return "loading the data..."
    return (
        f"{MODEL_TITLES[job.model or ModelKind.CNN]}: epoch {p.epoch}, step {p.step}/"
        f"{p.steps_per_epoch}, loss {p.loss:.4f}, training accuracy {percent(p.accuracy, 2)}, "
        f"{p.images_per_second:,.0f} images/s. {job.message}"
    )


def _show_run(job: Job, mine: bool) -> None:
    """One run: its state, progress, live curves and (for its owner) the cancel button."""
    who = "Your run" if mine else "A run queued by another session"
    if job.state == JobState.RUNNING:
        share = job.images_done / job.request.images
        st.progress(min(share, 1.0), text=f"{who}: {_progress_line(job)}")
    elif job.state == JobState.FINISHED:
        st.success(f"{who} finished: {job.message}.", icon=":material/check_circle:")
        run = next((r for r in list_runs(dataset) if r.path == job.run_dir), None)
        for name in job.request.models:
            note = run and undertrained_note(run.records[name], run.accuracy[name], dataset)
            if note:
                st.warning(f"{MODEL_TITLES[name]}: {note}", icon=":material/warning:")
    elif job.state == JobState.QUEUED:
        st.info(f"{who} is waiting in the queue.")
    else:
        st.info(f"{who}: {job.message}.")
    if job.curve:
        st.plotly_chart(training_curves(job.curve, MODEL_TITLES), key=f"curves_{job.id}")
    cancel = mine and job.state in ACTIVE
    if cancel and st.button("Cancel my run", key=f"cancel_{job.id}", icon=":material/cancel:"):
        registry.cancel(job.id, owner)
        st.rerun(scope="fragment")


def show_queue() -> None:
    """The server's queue, the run training now and this session's latest run."""
    jobs = registry.jobs()
    waits = registry.waits()
    active = sum(job.state in ACTIVE for job in jobs)
    rows = queue_rows(jobs, waits, owner)
    mine = next((j for j in jobs if j.id == st.session_state.get("my_run")), None)
    if rows:
        st.dataframe(rows, hide_index=True, key="queue_table")
        st.caption(
            f"Estimates assume {registry.images_per_second():,.0f} training images/s, "
            f"from {registry.speed_basis()}."
        )
    if mine is not None and mine.id in waits:
        st.info(describe_wait(*waits[mine.id], time.time()), icon=":material/schedule:")
    running = next((j for j in jobs if j.state == "running"), None)
    if running is not None and (mine is None or running.id != mine.id):
        _show_run(running, mine=running.owner == owner)
    if mine is not None:
        _show_run(mine, mine=True)
    if active < st.session_state.get("active_runs", 0):
        st.session_state["active_runs"] = active
        st.rerun()  # a run ended: refresh the list of finished runs below
    st.session_state["active_runs"] = active


st.subheader("Queue")
busy = any(job.state in ACTIVE for job in registry.jobs())
st.fragment(run_every=1.0 if busy else None)(show_queue)()

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
                "CNN accuracy": run.accuracy[ModelKind.CNN],
                "SENet accuracy": run.accuracy[ModelKind.SENET],
                "epochs": run.train["epochs"],
                "images": run.train["train_subset"] or 60_000,
                "SE": f"r={run.model['reduction_ratio']}, {run.model['squeeze']}, {run.model['gate']}",
                "undertrained": ", ".join(
                    MODEL_TITLES[m]
                    for m in run.trained
                    if undertrained_note(run.records[m], run.accuracy[m], dataset)
                ),
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
