"""Where the training runs of an experiment execute: in this process, or on Ray.

An experiment (`compare_over_seeds`, `ablate`) is a list of independent runs, one per model
configuration and seed. :class:`InProcess` trains them one after the other here, the
default, with nothing extra to install. :class:`RayBackend` hands each run to Ray
(https://docs.ray.io): ``ray.init()`` starts a local Ray on this machine, and an address
(``ray://head:10001`` or ``auto``) spreads the runs over a cluster. Every run sets its own
seed and torch thread count, so both give the same numbers for the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.data import Split
from se_demo.training.train import TrainProgress

Run = tuple[ModelConfig, TrainConfig]  # one training run: what to train, with which seed
RunProgress = Callable[[int, TrainProgress], None]  # (index of the run, its progress)
TrainAndTest = Callable[..., dict[str, Any]]


class Backend(Protocol):
    """Executes independent training runs and returns their results in the given order."""

    def run(
        self,
        task: TrainAndTest,
        runs: Sequence[Run],
        train_split: Split,
        test_split: Split,
        on_progress: RunProgress | None = None,
    ) -> list[dict[str, Any]]:
        """``task(model_config, train_config, train_split, test_split, progress)`` per run."""
        ...


class InProcess:
    """One run after the other in this process, with live progress."""

    def run(
        self,
        task: TrainAndTest,
        runs: Sequence[Run],
        train_split: Split,
        test_split: Split,
        on_progress: RunProgress | None = None,
    ) -> list[dict[str, Any]]:
        """Train and test every run here, in order."""
        results = []
        for index, (model_config, train_config) in enumerate(runs):
            progress = None if on_progress is None else _bind(on_progress, index)
            results.append(task(model_config, train_config, train_split, test_split, progress))
        return results


@dataclass
class RayBackend:
    """Every run as a Ray task (1 CPU each); progress is reported only as runs finish.

    ``address``: None starts a local Ray (``ray.init()``); otherwise the cluster to join.
    ``threads``: torch threads inside each task; None uses this process's count, so the
    arithmetic, and therefore the numbers, are those of an in-process run.
    """

    address: str | None = None
    threads: int | None = None

    def run(
        self,
        task: TrainAndTest,
        runs: Sequence[Run],
        train_split: Split,
        test_split: Split,
        on_progress: RunProgress | None = None,
    ) -> list[dict[str, Any]]:
        """Submit every run, wait for all, return their results in order."""
        ray = import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        threads = self.threads or torch.get_num_threads()
        remote = ray.remote(num_cpus=1)(_run_with_threads)
        train_ref, test_ref = ray.put(train_split), ray.put(test_split)
        futures = [
            remote.remote(task, threads, model_config, train_config, train_ref, test_ref)
            for model_config, train_config in runs
        ]
        return list(ray.get(futures))


def import_ray() -> Any:
    """The ``ray`` module, or a ValueError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ValueError(
            "--backend ray needs Ray: pip install -r requirements-ray.txt "
            "(or run without --backend to train in this process)"
        ) from error
    return ray


def _run_with_threads(
    task: TrainAndTest,
    threads: int,
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_split: Split,
    test_split: Split,
) -> dict[str, Any]:
    torch.set_num_threads(threads)  # Ray sets 1 per CPU it grants; use the caller's count
    return task(model_config, train_config, train_split, test_split, None)


def _bind(on_progress: RunProgress, index: int) -> Callable[[TrainProgress], None]:
    return lambda progress: on_progress(index, progress)
