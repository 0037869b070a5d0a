"""Command line: ``python -m se_demo {train,evaluate,channels,robustness,compare,ablate,worker,
queue,class}``; see ``--help``. The class's commands import torch only to train or read digits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from se_demo.classroom.store import StoreError
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.datafiles import DatasetUnavailableError
from se_demo.core.registry import DATASETS, GATES, MODEL_KINDS, SQUEEZES, DatasetName


def _command(commands: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose help shows every flag's default."""
    return commands.add_parser(
        name, help=text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def _add_folders(parser: argparse.ArgumentParser, *, dataset: bool = False) -> None:
    """Where the data and the checkpoints are (and ``--dataset`` when asked)."""
    if dataset:
        parser.add_argument("--dataset", choices=tuple(DATASETS), default=DatasetName.MNIST)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data root (holding MNIST/raw, FashionMNIST/raw); default: $SE_DEMO_DATA, else ./data",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help="folder of the checkpoints and saved results; default: checkpoints/DATASET",
    )


def _add_model_choice(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", choices=(*MODEL_KINDS, "both"), default="both", help="which model(s) to train"
    )


# fmt: off
def _add_recipe(
    parser: argparse.ArgumentParser, recipe: TrainConfig | None = None, *, seed: bool = True
) -> None:
    """`TrainConfig`'s fields as flags, in its order, with ``recipe``'s values as defaults."""
    recipe = recipe or TrainConfig()
    add = parser.add_argument
    add("--epochs", type=int, default=recipe.epochs,
        help="the original study trained 100; OneCycle + augmentation needs far fewer")
    add("--batch-size", type=int, default=recipe.batch_size,
        help="large enough to keep both CPU cores busy")
    add("--lr", type=float, default=recipe.lr, help="peak learning rate of the OneCycle schedule")
    add("--weight-decay", type=float, default=recipe.weight_decay,
        help="AdamW's decoupled weight decay")
    add("--label-smoothing", type=float, default=recipe.label_smoothing,
        help="softens over-confident logits a little")
    add("--max-rotation", type=float, default=recipe.max_rotation,
        help="degrees of random rotation in augmentation")
    add("--max-shift", type=float, default=recipe.max_shift,
        help="pixels of random translation in augmentation")
    add("--max-scale", type=float, default=recipe.max_scale,
        help="relative random zoom in augmentation")
    add("--dataset", type=DatasetName, choices=tuple(DATASETS), default=recipe.dataset,
        help="mnist or fashion (Fashion-MNIST)")
    if seed:  # compare and ablate train seeds 0 .. N-1 instead
        add("--seed", type=int, default=recipe.seed,
            help="seeds initialisation, shuffling and augmentation")
    add("--train-subset", type=int, default=recipe.train_subset,
        help="first N training images only (tests, dry runs)")
    add("--threads", type=int, default=recipe.threads,
        help="torch threads; None keeps torch's default")
# fmt: on


def _add_se_settings(parser: argparse.ArgumentParser) -> None:
    """`ModelConfig`'s SE settings as flags, with its defaults."""
    defaults = ModelConfig()
    parser.add_argument(
        "--reduction-ratio",
        type=int,
        default=defaults.reduction_ratio,
        help="SE bottleneck: C -> C/r -> C",
    )
    parser.add_argument(
        "--squeeze",
        choices=SQUEEZES,
        default=defaults.squeeze,
        help="SE squeeze: the paper's mean, the original study's sum, or max",
    )
    parser.add_argument("--gate", choices=GATES, default=defaults.gate, help="SE excitation gate")


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    """``train``: one model or both, saved as checkpoints."""
    train = _command(commands, "train", "train the basic CNN and/or the SENet")
    _add_model_choice(train)
    _add_recipe(train)
    _add_se_settings(train)
    train.add_argument(
        "--dry-run", action="store_true", help="one quick epoch on 512 images; saves nothing"
    )
    _add_folders(train)


def _add_seed_commands(commands: argparse._SubParsersAction) -> None:
    """``compare`` and ``ablate``: training over seeds, here or on Ray."""
    for name, text, seeds, epochs in (
        ("compare", "train both models over several seeds and test the paired differences", 5, 3),
        ("ablate", "the SE paper's ablations (reduction ratio, squeeze, gate) over seeds", 2, 2),
    ):
        sub = _command(commands, name, text)
        sub.add_argument(
            "--seeds", type=int, default=seeds, help="number of seeds (0, 1, ..., N-1)"
        )
        sub.add_argument(
            "--backend",
            choices=("inprocess", "ray"),
            default="inprocess",
            help="where the training runs execute: one after the other in this process, or "
            "as Ray tasks in parallel (pip install -r requirements-ray.txt)",
        )
        sub.add_argument(
            "--ray-address",
            default=None,
            help="with --backend ray: the cluster to join (e.g. ray://head:10001 or auto); "
            "by default a local Ray is started on this machine",
        )
        _add_recipe(sub, TrainConfig(epochs=epochs), seed=False)
        _add_folders(sub)


def _add_saved_results_commands(commands: argparse._SubParsersAction) -> None:
    """``evaluate``, ``robustness`` and ``channels``: the shipped checkpoints' saved results."""
    for name, text in (
        ("evaluate", "print the original study's report for both checkpoints and save the results"),
        (
            "robustness",
            "both checkpoints on MNIST-C style corruptions; prints a table, saves the results",
        ),
        ("channels", "measure each SE channel's effect (test accuracy without it) and save it"),
    ):
        _add_folders(_command(commands, name, text), dataset=True)


def _add_worker_command(commands: argparse._SubParsersAction) -> None:
    """``worker``: train the class's queued runs, here or on Ray."""
    worker = _command(commands, "worker", "train the class's queued runs (reads SE_DEMO_DB)")
    worker.add_argument("--once", action="store_true", help="train one queued run, then exit")
    worker.add_argument(
        "--backend", choices=("local", "ray"), default="local",
        help="train here, or hand each run to a Ray cluster (pip install -r requirements-ray.txt)",
    )  # fmt: skip
    worker.add_argument(
        "--ray-address", default=None,
        help="with --backend ray: the cluster to join (default: a local Ray on this machine)",
    )  # fmt: skip
    worker.add_argument("--slots", type=int, default=2, help="with --backend ray: runs at once")
    worker.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: every core)"
    )
    worker.add_argument(
        "--data-dir", default=None, help="data root (default: $SE_DEMO_DATA, else ./data)"
    )
    worker.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)  # the app's
    worker.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)


def _add_queue_command(commands: argparse._SubParsersAction) -> None:
    """``queue add|list|cancel``: the Training lab's queue, on the store named by SE_DEMO_DB."""
    queue = commands.add_parser("queue", help="the Training lab's queue: add, list or cancel runs")
    actions = queue.add_subparsers(dest="action", required=True)
    add = _command(actions, "add", "queue a run (as the lecturer when SE_DEMO_LECTURER_KEY is set)")
    _add_model_choice(add)
    _add_recipe(add, TrainConfig(epochs=2, train_subset=10_000))
    _add_se_settings(add)
    add.add_argument("--owner", default="command-line", help="whose run it is (their token)")
    actions.add_parser("list", help="every run: owner, state, place and test accuracy")
    cancel = actions.add_parser("cancel", help="cancel a run (its owner, or the lecturer's key)")
    cancel.add_argument("run_id", help="the run's id, as `queue list` prints it")
    cancel.add_argument("--owner", default="command-line", help="the owner's token")


def _add_class_command(commands: argparse._SubParsersAction) -> None:
    """``class export|import``: the class's own digits as files, and back."""
    digits = commands.add_parser("class", help="the class's own digits: export or import them")
    actions = digits.add_subparsers(dest="action", required=True)
    export = _command(
        actions, "export", "write a set of the class's digits as MNIST IDX, .npz or CSV"
    )
    export.add_argument("--format", choices=("idx", "npz", "csv"), default="idx")
    export.add_argument("--out", type=Path, required=True, help="the folder to write into")
    export.add_argument("--set", type=int, default=None, help="a set's id (default: the open set)")
    read = actions.add_parser(
        "import", help="add digits from an export (IDX folder, gzipped or not; .npz; .csv)"
    )
    read.add_argument("path", type=Path, help="the export: a folder or a file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m se_demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_command(commands)
    _add_saved_results_commands(commands)
    _add_seed_commands(commands)
    _add_worker_command(commands)
    _add_queue_command(commands)
    _add_class_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command in ("worker", "queue", "class"):
            from se_demo.classroom.cli import class_command, queue_command, worker_command

            run = {"worker": worker_command, "queue": queue_command, "class": class_command}
            return run[args.command](args)
        from se_demo.commands import (
            channels_command,
            evaluate_command,
            experiment_command,
            robustness_command,
            train_command,
        )

        commands = {
            "train": train_command,
            "evaluate": evaluate_command,
            "channels": channels_command,
            "compare": experiment_command,
            "ablate": experiment_command,
            "robustness": robustness_command,
        }
        return commands[args.command](args)
    except (DatasetUnavailableError, CheckpointError, StoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: nothing was saved; existing checkpoints are untouched", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
