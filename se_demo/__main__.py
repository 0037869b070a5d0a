"""Command line: ``python -m se_demo {train,evaluate,channels,robustness,compare,ablate,worker,
queue,class}``; see ``--help``. The class's commands import torch only to train or read digits."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from se_demo.classroom.store import StoreError
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.datafiles import DatasetUnavailableError
from se_demo.core.registry import DATASETS, GATES, MODEL_KINDS, SQUEEZES, DatasetName


def _add_common(parser: argparse.ArgumentParser, dataset_flag: bool = True) -> None:
    if dataset_flag:
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


def _add_train_flags(parser: argparse.ArgumentParser, **overrides: object) -> None:
    """One flag per TrainConfig field, with the dataclass default unless overridden."""
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name == "seed" and "seed" in overrides and overrides["seed"] is None:
            continue
        default = overrides.get(f.name, getattr(defaults, f.name))
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=int if f.name in ("train_subset", "threads") else type(getattr(defaults, f.name)),
            choices=tuple(DATASETS) if f.name == "dataset" else None,
            default=default,
            help=f.metadata["help"],
        )


def _add_se_flags(parser: argparse.ArgumentParser) -> None:
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


def _add_class_commands(commands: argparse._SubParsersAction) -> None:
    """``worker`` and ``queue``: the class's lab, on the store named by SE_DEMO_DB."""
    worker = commands.add_parser(
        "worker",
        help="train the class's queued runs (reads SE_DEMO_DB)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
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

    queue = commands.add_parser("queue", help="the Training lab's queue: add, list or cancel runs")
    actions = queue.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="queue a run (as the lecturer when SE_DEMO_LECTURER_KEY is set)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add.add_argument(
        "--model", choices=(*MODEL_KINDS, "both"), default="both", help="which model(s) to train"
    )
    _add_train_flags(add, epochs=2, train_subset=10_000)
    _add_se_flags(add)
    add.add_argument("--owner", default="command-line", help="whose run it is (their token)")
    actions.add_parser("list", help="every run: owner, state, place and test accuracy")
    cancel = actions.add_parser("cancel", help="cancel a run (its owner, or the lecturer's key)")
    cancel.add_argument("run_id", help="the run's id, as `queue list` prints it")
    cancel.add_argument("--owner", default="command-line", help="the owner's token")

    digits = commands.add_parser("class", help="the class's own digits: export or import them")
    digit_actions = digits.add_subparsers(dest="action", required=True)
    export = digit_actions.add_parser(
        "export",
        help="write a set of the class's digits as MNIST IDX, .npz or CSV",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.add_argument("--format", choices=("idx", "npz", "csv"), default="idx")
    export.add_argument("--out", type=Path, required=True, help="the folder to write into")
    export.add_argument("--set", type=int, default=None, help="a set's id (default: the open set)")
    read = digit_actions.add_parser(
        "import", help="add digits from an export (IDX folder, gzipped or not; .npz; .csv)"
    )
    read.add_argument("path", type=Path, help="the export: a folder or a file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m se_demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train the basic CNN and/or the SENet",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument(
        "--model", choices=(*MODEL_KINDS, "both"), default="both", help="which model(s) to train"
    )
    _add_train_flags(train)
    _add_se_flags(train)
    train.add_argument(
        "--dry-run",
        action="store_true",
        help="one quick epoch on 512 images; saves nothing",
    )
    _add_common(train, dataset_flag=False)

    evaluate = commands.add_parser(
        "evaluate",
        help="print the original study's report for both checkpoints and save the results",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_common(evaluate)

    robustness = commands.add_parser(
        "robustness",
        help="both checkpoints on MNIST-C style corruptions; prints a table, saves the results",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_common(robustness)

    channels = commands.add_parser(
        "channels",
        help="measure each SE channel's effect (test accuracy without it) and save it",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_common(channels)

    for command, text in (
        ("compare", "train both models over several seeds and test the paired differences"),
        ("ablate", "the SE paper's ablations (reduction ratio, squeeze, gate) over seeds"),
    ):
        sub = commands.add_parser(
            command, help=text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        sub.add_argument(
            "--seeds",
            type=int,
            default=5 if command == "compare" else 2,
            help="number of seeds (0, 1, ..., N-1)",
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
        _add_train_flags(sub, seed=None, epochs=3 if command == "compare" else 2)
        _add_common(sub, dataset_flag=False)
    _add_class_commands(commands)
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
