"""Command line: ``python -m se_demo {train,evaluate,channels,robustness,compare,ablate}``; see ``--help``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from se_demo.checkpoints import CheckpointError
from se_demo.commands import (
    channels_command,
    evaluate_command,
    experiment_command,
    robustness_command,
    train_command,
)
from se_demo.config import ModelConfig, TrainConfig
from se_demo.datafiles import DatasetUnavailableError
from se_demo.registry import DATASETS, GATES, MODEL_KINDS, SQUEEZES, DatasetName


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
    model_defaults = ModelConfig()
    train.add_argument(
        "--reduction-ratio",
        type=int,
        default=model_defaults.reduction_ratio,
        help="SE bottleneck: C -> C/r -> C",
    )
    train.add_argument(
        "--squeeze",
        choices=SQUEEZES,
        default=model_defaults.squeeze,
        help="SE squeeze: the paper's mean, the original study's sum, or max",
    )
    train.add_argument(
        "--gate", choices=GATES, default=model_defaults.gate, help="SE excitation gate"
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        commands = {
            "train": train_command,
            "evaluate": evaluate_command,
            "channels": channels_command,
            "compare": experiment_command,
            "ablate": experiment_command,
            "robustness": robustness_command,
        }
        return commands[args.command](args)
    except (DatasetUnavailableError, CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: nothing was saved; existing checkpoints are untouched", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
