"""The command line's commands (``python -m se_demo ...``): each takes the parsed arguments
and returns the process exit code. `se_demo.__main__` parses the flags and dispatches here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from se_demo.analysis import channel_effects as effects
from se_demo.analysis.evaluate import evaluate_checkpoints, save_evaluation
from se_demo.analysis.original_study import format_comparison, format_reference_report
from se_demo.core.checkpoints import (
    Checkpoint,
    CheckpointError,
    library_versions,
    load_checkpoints,
    save_checkpoint,
    shared_dataset,
)
from se_demo.core.config import CHECKPOINT_DIR, ModelConfig, TrainConfig, to_dict
from se_demo.core.data import Split, load_split
from se_demo.core.files import write_json_atomic
from se_demo.core.registry import (
    MODEL_KINDS,
    MODEL_TITLES,
    ModelKind,
    dataset_info,
    gate_option,
    model_kind,
    squeeze_option,
)
from se_demo.robustness.results import format_robustness_table
from se_demo.robustness.sweep import run_robustness, save_robustness
from se_demo.training.backends import Backend, InProcess, RayBackend, import_ray
from se_demo.training.experiment_results import format_ablation_markdown, format_comparison_markdown
from se_demo.training.experiments import ablate, compare_over_seeds
from se_demo.training.train import TrainProgress, train_model, training_record


def _checkpoint_dir(args: argparse.Namespace) -> Path:
    return args.checkpoint_dir or CHECKPOINT_DIR / args.dataset


def _checkpoints_and_test_split(
    args: argparse.Namespace, names: tuple[str, ...] = MODEL_KINDS
) -> tuple[Path, dict[str, Checkpoint], Split]:
    """The checkpoint folder, its checkpoints ``names`` and the test split of the dataset
    they were trained on; CheckpointError when that is not ``--dataset``.
    """
    directory = _checkpoint_dir(args)
    checkpoints = load_checkpoints(directory, names)
    dataset = shared_dataset(checkpoints).key
    if dataset != args.dataset:
        raise CheckpointError(
            f"the models in '{directory}' were trained on {dataset}, not {args.dataset}: "
            f"pass --dataset {dataset}"
        )
    return directory, checkpoints, load_split(False, args.data_dir, dataset=dataset)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        **{f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    )


def _progress_bars(name: str, epochs: int) -> tuple[tqdm, Callable[[TrainProgress], None]]:
    """A bar over ``name``'s epochs, and the callback that drives it and each epoch's bar
    over its steps (loss, accuracy and speed as it trains; test accuracy after each epoch)."""
    bar = tqdm(total=epochs, desc=f"{name} epoch", unit="epoch", dynamic_ncols=True)
    inner: dict[str, tqdm] = {}

    def show(p: TrainProgress) -> None:
        if p.step == 1 and p.test_accuracy is None:
            inner["steps"] = tqdm(
                total=p.steps_per_epoch, desc=f"  epoch {p.epoch}", leave=False, unit="batch"
            )
        steps = inner["steps"]
        if p.test_accuracy is None:
            steps.set_postfix(
                loss=f"{p.loss:.4f}",
                acc=f"{p.accuracy:.4f}",
                img_s=f"{p.images_per_second:.0f}",
                refresh=False,
            )
            steps.update(1)
        if p.step == p.steps_per_epoch and p.test_accuracy is not None:
            steps.close()
            bar.update(1)
            bar.set_postfix(
                loss=f"{p.loss:.4f}",
                test_acc=f"{p.test_accuracy:.4f}",
                img_s=f"{p.images_per_second:.0f}",
            )

    return bar, show


def train_command(args: argparse.Namespace) -> int:
    """``train``: train the chosen model(s) and save each checkpoint (nothing with --dry-run)."""
    train_config = _train_config(args)
    if args.dry_run:
        train_config = TrainConfig(**{**to_dict(train_config), "epochs": 1, "train_subset": 512})
    train_split = load_split(True, args.data_dir, dataset=train_config.dataset)
    test_split = load_split(False, args.data_dir, dataset=train_config.dataset)
    names = MODEL_KINDS if args.model == "both" else (args.model,)
    for name in names:
        model_config = ModelConfig(
            name=model_kind(name),
            reduction_ratio=args.reduction_ratio,
            squeeze=squeeze_option(args.squeeze),
            gate=gate_option(args.gate),
        )
        bar, show = _progress_bars(name, train_config.epochs)
        result = train_model(model_config, train_config, train_split, test_split, progress=show)
        bar.close()
        record = training_record(
            model_config,
            train_config,
            result,
            train_split,
            test_split,
            command="python -m se_demo " + " ".join(sys.argv[1:]),
        )
        print(
            f"{MODEL_TITLES[name]}: test accuracy {record['test_metrics']['accuracy']:.5f} "
            f"after {train_config.epochs} epochs in {result.wall_time_s:.0f} s"
        )
        if args.dry_run:
            print("dry run: nothing saved")
            continue
        directory = args.checkpoint_dir or CHECKPOINT_DIR / train_config.dataset
        path = save_checkpoint(result.model, record, directory, name)
        print(f"saved {path}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``evaluate``: the original study's report for both checkpoints; saves the evaluation beside them."""
    directory, checkpoints, test_split = _checkpoints_and_test_split(args)
    evaluation = evaluate_checkpoints(checkpoints, test_split)
    for name in checkpoints:
        print(format_reference_report(MODEL_TITLES[name], evaluation.metrics(name)))
        print()
    metrics = {name: evaluation.metrics(name) for name in checkpoints}
    print(format_comparison(metrics, dataset_info(args.dataset).reference))
    path = save_evaluation(evaluation, directory)
    print(f"\nsaved {path}")
    return 0


def robustness_command(args: argparse.Namespace) -> int:
    """``robustness``: both checkpoints on the corruptions; prints the table, saves the sweep."""
    directory, checkpoints, test_split = _checkpoints_and_test_split(args)
    start = time.perf_counter()
    bar = tqdm(desc="settings", unit="setting", leave=False)
    sweep = run_robustness(
        {name: checkpoint.model for name, checkpoint in checkpoints.items()},
        test_split.images.numpy(),
        test_split.labels.numpy(),
        shared_dataset(checkpoints).key,
        on_setting=lambda name, severity: bar.update(1),
    )
    bar.close()
    print(format_robustness_table(sweep))
    path = save_robustness(sweep, directory)
    print(f"\nswept {len(sweep.settings)} settings in {time.perf_counter() - start:.0f} s")
    print(f"saved {path}")
    return 0


def channels_command(args: argparse.Namespace) -> int:
    """``channels``: each SE channel's effect on the test accuracy; saves it beside the SENet."""
    directory, checkpoints, test_split = _checkpoints_and_test_split(args, (ModelKind.SENET,))
    senet = checkpoints[ModelKind.SENET]
    trained, removed = effects.measure_channel_effects(
        senet, test_split, on_block=lambda block: print(f"measuring {block}...", flush=True)
    )
    record = effects.channel_effects_record(removed, trained, test_split, senet)
    path = effects.save_channel_effects(record, directory)
    print(effects.format_largest_effects(effects.load_channel_effects(directory) or {}))
    print(f"\nsaved {path}")
    return 0


def experiment_command(args: argparse.Namespace) -> int:
    """``compare`` and ``ablate``: train over seeds (here or on Ray); prints and saves the record."""
    if args.backend == "ray":
        import_ray()  # a clear message before any data is loaded, when it is missing
    elif args.ray_address:
        raise ValueError("--ray-address needs --backend ray")
    train_config = _train_config(args)
    train_split = load_split(True, args.data_dir, dataset=train_config.dataset)
    test_split = load_split(False, args.data_dir, dataset=train_config.dataset)
    seeds = list(range(args.seeds))
    bars: dict[tuple[str, int], tqdm] = {}

    def show(label: str, seed: int, p: TrainProgress) -> None:
        bar = bars.get((label, seed))
        if bar is None:
            total = p.steps_per_epoch * train_config.epochs
            bar = bars[(label, seed)] = tqdm(total=total, desc=f"{label} seed {seed}", unit="batch")
        if p.test_accuracy is None:
            bar.set_postfix(loss=f"{p.loss:.4f}", img_s=f"{p.images_per_second:.0f}", refresh=False)
            bar.update(1)
        if bar.n >= bar.total:
            bar.close()

    backend: Backend = InProcess()
    if args.backend == "ray":
        backend = RayBackend(address=args.ray_address)
        print("training on Ray: no progress bars; the table follows all runs", file=sys.stderr)
    if args.command == "compare":
        record = compare_over_seeds(train_config, seeds, train_split, test_split, show, backend)
        text = format_comparison_markdown(record)
    else:
        record = ablate(
            train_config, seeds, train_split, test_split, on_progress=show, backend=backend
        )
        text = format_ablation_markdown(record)
    record["command"] = "python -m se_demo " + " ".join(sys.argv[1:])
    record["versions"] = library_versions()
    print(text)
    directory = args.checkpoint_dir or CHECKPOINT_DIR / train_config.dataset
    name = "comparison" if args.command == "compare" else "ablation"
    path = directory / f"{name}.json"
    write_json_atomic(path, record)
    print(f"\nsaved {path}")
    return 0
