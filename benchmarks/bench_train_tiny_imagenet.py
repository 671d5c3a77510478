"""Accuracy in 30 CPU-minutes: ``alexnet-reduced`` on 20 Tiny ImageNet classes.

Trains the ``tiny-imagenet`` preset (``alexedge.train.presets``) exactly as
``alexedge train --data DIR --preset tiny-imagenet`` does, then prints top-1/top-5 on
the 1,000 validation images with the centre crop and the paper's 10-crop, the training
time, the throughput, and when validation top-1 first reached the target. The target
(65% centre-crop top-1 within 30 minutes of training on a 2-core CPU) comes from issue
4; the reference is a plain 5.5M-parameter BN conv net that reached 67.8% / 93.8% in 25
minutes here (shared/FINDINGS.md).

Not part of CI; prints, never asserts a time. Usage::

    python benchmarks/bench_train_tiny_imagenet.py [--out DIR] [--epochs N] [--config TOML]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from alexedge.train.callbacks import read_history
from alexedge.train.loop import steps_per_epoch
from alexedge.train.presets import get_preset
from alexedge.train.run_config import DataConfig, RunConfig, read_run_config
from alexedge.train.session import RunOutcome, train_run

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tiny-imagenet-20"
TARGET_TOP1 = 0.65
BUDGET_MINUTES = 30.0
REFERENCE = "plain 5.5M-param BN conv net: 67.8% / 93.8% in 25 min"


def _config(args: argparse.Namespace) -> RunConfig:
    if args.config:
        return read_run_config(args.config)
    train = get_preset("tiny-imagenet")
    if args.epochs:
        train = train.replace(epochs=args.epochs)
    return RunConfig(DataConfig(root=args.data), train)


def _first_epoch_reaching(history: list[dict[str, str]], target: float) -> tuple[int, float]:
    """(epoch, training minutes until its end) when val top-1 first reached ``target``."""
    elapsed = 0.0
    for row in history:
        elapsed += float(row["seconds"])
        if float(row["val_top1"]) >= target:
            return int(row["epoch"]), elapsed / 60
    return 0, float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="override the preset")
    parser.add_argument("--config", type=Path, default=None, help="a config.toml instead")
    args = parser.parse_args()
    config = _config(args)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("/tmp") / "alexedge-bench" / f"tiny-imagenet-{stamp}"
    print(f"recipe: {config.train}")
    print(f"run folder: {out}", flush=True)
    start = time.perf_counter()
    outcome = train_run(config, out)
    total = time.perf_counter() - start
    _report(out, outcome, total, config)


def _report(out: Path, outcome: RunOutcome, total: float, config: RunConfig) -> None:
    history = read_history(out)
    train_minutes = sum(float(r["seconds"]) for r in history) / 60
    steps = steps_per_epoch(outcome.train_images, config.train.batch_size)
    throughput = len(history) * steps * config.train.batch_size / (train_minutes * 60)
    epoch, minutes = _first_epoch_reaching(history, TARGET_TOP1)
    centre, ten = outcome.metrics["centre_crop"], outcome.metrics["ten_crop"]
    print()
    print(f"epochs                      {len(history)}")
    print(f"training time (fit + val)   {train_minutes:.1f} min   (whole run {total / 60:.1f} min)")
    print(f"training throughput         {throughput:.0f} img/s (incl. per-epoch validation)")
    reached = f"epoch {epoch}, {minutes:.1f} min" if epoch else "not reached"
    print(f"val top-1 >= {TARGET_TOP1:.0%} first at   {reached}")
    print(f"centre crop                 top-1 {centre['top1']:.4f}  top-5 {centre['top5']:.4f}")
    print(f"10-crop                     top-1 {ten['top1']:.4f}  top-5 {ten['top5']:.4f}")
    print(f"reference                   {REFERENCE}")
    budget = train_minutes / BUDGET_MINUTES
    print(f"training minutes / {BUDGET_MINUTES:.0f}-minute budget: {budget:.2f}")
    print(f"centre-crop top-1 / {TARGET_TOP1:.0%} target: {centre['top1'] / TARGET_TOP1:.3f}")


if __name__ == "__main__":
    main()
