"""Command line: ``python -m se_demo {train,evaluate} ...``; see ``--help`` of each."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from se_demo.checkpoints import CheckpointError, library_versions, load_checkpoint, save_checkpoint
from se_demo.config import (
    CHECKPOINT_DIR,
    GATES,
    MODEL_NAMES,
    SQUEEZE_OPERATORS,
    ModelConfig,
    TrainConfig,
    to_dict,
)
from se_demo.data import DatasetUnavailableError, load_split
from se_demo.evaluate import (
    MODEL_TITLES,
    compute_metrics,
    evaluate_models,
    format_comparison,
    format_seed_report,
    predict,
    save_evaluation,
)
from se_demo.models import count_parameters
from se_demo.train import TrainProgress, train_model

DEFAULT_OUT = CHECKPOINT_DIR / "mnist"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="MNIST root (holding MNIST/raw); default: $SE_DEMO_DATA, else ./data",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=DEFAULT_OUT,
        help="folder of the checkpoints and saved evaluation",
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
        "--model", choices=(*MODEL_NAMES, "both"), default="both", help="which model(s) to train"
    )
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        default = getattr(defaults, f.name)
        train.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=int if f.name in ("train_subset", "threads") else type(default),
            default=default,
            help=f.metadata["help"],
        )
    model_defaults = ModelConfig()
    train.add_argument(
        "--reduction-ratio",
        type=int,
        default=model_defaults.reduction_ratio,
        help="SE bottleneck: C -> C/r -> C",
    )
    train.add_argument(
        "--squeeze",
        choices=SQUEEZE_OPERATORS,
        default=model_defaults.squeeze,
        help="SE squeeze: the paper's mean, the seed's sum, or max",
    )
    train.add_argument(
        "--gate", choices=GATES, default=model_defaults.gate, help="SE excitation gate"
    )
    train.add_argument(
        "--dry-run",
        action="store_true",
        help="one quick epoch on 512 images; saves nothing",
    )
    _add_common(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="print the seed's report for both checkpoints and save the results",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_common(evaluate)
    return parser


def _train(args: argparse.Namespace) -> int:
    train_config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    if args.dry_run:
        train_config = TrainConfig(**{**to_dict(train_config), "epochs": 1, "train_subset": 512})
    train_split = load_split(True, args.data_dir)
    test_split = load_split(False, args.data_dir)
    names = MODEL_NAMES if args.model == "both" else (args.model,)
    for name in names:
        model_config = ModelConfig(
            name=name, reduction_ratio=args.reduction_ratio, squeeze=args.squeeze, gate=args.gate
        )
        bar = tqdm(
            total=train_config.epochs, desc=f"{name} epoch", unit="epoch", dynamic_ncols=True
        )
        inner: dict[str, tqdm] = {}

        def show(p: TrainProgress, bar: tqdm = bar, inner: dict[str, tqdm] = inner) -> None:
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

        result = train_model(model_config, train_config, train_split, test_split, progress=show)
        bar.close()
        metrics = compute_metrics(
            test_split.labels.numpy(), predict(result.model, test_split.images).argmax(1).numpy()
        )
        print(
            f"{MODEL_TITLES[name]}: test accuracy {metrics['accuracy']:.5f} "
            f"after {train_config.epochs} epochs in {result.wall_time_s:.0f} s"
        )
        if args.dry_run:
            print("dry run: nothing saved")
            continue
        record = {
            "model": to_dict(model_config),
            "train": to_dict(train_config),
            "dataset": "mnist",
            "train_data_sha256": train_split.subset(train_config.train_subset).checksum(),
            "test_data_sha256": test_split.checksum(),
            "epochs": train_config.epochs,
            "wall_time_s": round(result.wall_time_s, 1),
            "parameters": count_parameters(result.model),
            "history": result.history,
            "test_metrics": {k: metrics[k] for k in ("accuracy", "precision", "recall", "f1")},
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python -m se_demo " + " ".join(sys.argv[1:]),
            "versions": library_versions(),
        }
        path = save_checkpoint(result.model, record, args.checkpoint_dir, name)
        print(f"saved {path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    models = {name: load_checkpoint(args.checkpoint_dir, name)[0] for name in MODEL_NAMES}
    test_split = load_split(False, args.data_dir)
    evaluation = evaluate_models(models, test_split)
    for name in models:
        print(format_seed_report(MODEL_TITLES[name], evaluation.metrics(name)))
        print()
    print(format_comparison({name: evaluation.metrics(name) for name in models}))
    path = save_evaluation(evaluation, args.checkpoint_dir)
    print(f"\nsaved {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        return {"train": _train, "evaluate": _evaluate}[args.command](args)
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
