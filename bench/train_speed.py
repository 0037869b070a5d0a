"""Training throughput of the shipped recipe, as images/s and as a share of the CPU's limit.

    python -m bench.train_speed [--runs 5] [--images 12800]

Each run trains one epoch on a fixed subset; the table shows the median over runs. The
compute limit is the CPU's peak FP32 rate (default: 2 cores x 2.45 GHz x 32 FLOP/cycle,
this machine's AMD EPYC Zen 3) divided by the FLOPs of one training step per image,
counted by torch.utils.flop_counter. Because the paper peak is rarely reached and
machines of one kind differ, the same run also measures torch's 2048x2048 SGEMM (on 1
thread and on all threads) and gives training's FLOP rate as a share of that.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
import torch.nn.functional as F
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

from se_demo.core.config import TRAIN_IMAGES, ModelConfig, TrainConfig
from se_demo.core.data import load_split
from se_demo.core.models import build_from_config
from se_demo.core.registry import DatasetName, ModelKind
from se_demo.training.train import train_model


def training_flops_per_image(config: ModelConfig, batch: int = 32) -> float:
    """FLOPs of forward + backward for one image."""
    model = build_from_config(config)
    x = torch.randn(batch, 1, 28, 28)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long)).backward()
    return counter.get_total_flops() / batch


def sgemm_gflops(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """torch's FP32 matrix-multiply rate (GFLOP/s) on ``threads`` threads: the best of
    ``repeats`` products of two ``size`` x ``size`` matrices (2 n^3 FLOPs each), timed by
    torch.utils.benchmark (which sets the threads and warms up before each product).
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    timer = benchmark.Timer("torch.mm(a, b)", globals={"a": a, "b": b}, num_threads=threads)
    best = min(timer.timeit(1).raw_times[0] for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--peak-gflops", type=float, default=2 * 2.45 * 32, help="CPU peak GFLOP/s")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    train = load_split(True, args.data_dir, dataset=DatasetName.MNIST)
    threads = torch.get_num_threads()
    gemm = {1: sgemm_gflops(1), threads: sgemm_gflops(threads)}
    print(
        f"machine: {platform.processor() or platform.machine()}, {threads} threads, "
        f"torch {torch.__version__}, peak {args.peak_gflops:.0f} GFLOP/s; 2048x2048 SGEMM "
        f"{gemm[1]:.0f} GFLOP/s on 1 thread, {gemm[threads]:.0f} GFLOP/s on {threads}"
    )
    print(
        f"{'model':<6} {'MFLOP/img':>9} {'limit img/s':>11} {'median img/s':>12} {'runs':>24} "
        f"{'of limit':>8} {'GFLOP/s':>8} {'of SGEMM':>8} {'epoch (s)':>9}"
    )
    for name in ModelKind:
        config = ModelConfig(name=name)
        flops = training_flops_per_image(config)
        limit = args.peak_gflops * 1e9 / flops
        speeds = []
        for run in range(args.runs):
            recipe = TrainConfig(epochs=1, train_subset=args.images, seed=run)
            speeds.append(train_model(config, recipe, train).history[0]["images_per_second"])
        median = statistics.median(speeds)
        runs = " ".join(f"{s:.0f}" for s in speeds)
        rate = median * flops / 1e9  # training GFLOP/s
        print(
            f"{name:<6} {flops / 1e6:>9.1f} {limit:>11.0f} {median:>12.0f} {runs:>24} "
            f"{median / limit:>8.0%} {rate:>8.0f} {rate / gemm[threads]:>8.0%} "
            f"{TRAIN_IMAGES / median:>9.1f}"
        )


if __name__ == "__main__":
    main()
