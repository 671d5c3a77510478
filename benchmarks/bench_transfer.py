"""Transfer from a pretrained backbone: from scratch vs linear probe vs fine-tune.

A user with 20 classes and a few dozen photos each cannot train an AlexNet-style network
from nothing; the question is how much a backbone pretrained on other classes
(``tiny-imagenet-100p``, 100 classes disjoint from both 20-class subsets) buys. For each
subset and each number of training images per class, this drives the real CLI in
subprocesses, as a user runs it, and times each command (wall clock and the children's
CPU seconds):

* scratch: ``alexedge train --data VIEW`` with the recipe the data picks;
* probe: ``alexedge embed BACKBONE VIEW`` for train and val, then ``alexedge probe``;
* fine-tune: ``alexedge train --data VIEW --init-from BACKBONE`` with its defaults.

VIEW is a folder of symlinks in the Tiny ImageNet layout: the first N training images of
each class (by file name) and the whole validation split, so every arm is scored on the
same 50 validation images per class. The floors checked are issue 31's: at 50 per class
the fine-tune beats scratch by >= 20 pt; at 500 it beats the ``tiny-imagenet`` preset
from scratch by >= 3 pt in under a third of its time.

Not part of CI (it reads ../shared); prints, never asserts a time. Usage::

    python benchmarks/bench_transfer.py [--backbone RUN | --backbone-minutes M]
        [--subsets a b] [--per-class 50 500] [--budget-minutes M]
        [--skip scratch,probe] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alexedge.atomic import write_json
from alexedge.hardware import describe_hardware, hardware_line

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBSET_NAMES = {"a": "tiny-imagenet-20", "b": "tiny-imagenet-20b"}
PRETRAIN_NAME = "tiny-imagenet-100p"
ARMS = ("scratch", "probe", "finetune")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
# The tiny-imagenet preset from scratch on all 500 per class (benchmarks/RESULTS.md):
# centre-crop top-1 and training minutes, on a 2-core Xeon with AVX512-BF16 and AMX.
PRESET_REFERENCE = {"a": (0.750, 24.3), "b": (0.767, 24.8)}
PRESET_HARDWARE = "2-core Xeon, AVX512-BF16 + AMX"
GAIN_AT_50 = 0.20
GAIN_AT_500 = 0.03
TIME_SHARE_AT_500 = 1 / 3


@dataclass
class Timed:
    """One CLI command: how long it took and where its output went."""

    command: list[str]
    log: str
    wall_seconds: float
    cpu_seconds: float
    returncode: int


@dataclass
class ArmResult:
    """One arm on one subset view: scores, time and the commands that gave them."""

    subset: str
    per_class: int
    arm: str
    top1: float | None = None
    top5: float | None = None
    ten_crop_top1: float | None = None
    ten_crop_top5: float | None = None
    recipe: str = ""
    weights: str = ""
    epochs: int | None = None
    steps: list[Timed] = field(default_factory=list)
    error: str = ""

    @property
    def minutes(self) -> float:
        return sum(s.wall_seconds for s in self.steps) / 60

    @property
    def cpu_minutes(self) -> float:
        return sum(s.cpu_seconds for s in self.steps) / 60


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "alexedge.cli", *map(str, args)]


def run_timed(command: list[str], log: Path) -> Timed:
    """Run one command with its output in ``log``; wall clock and the child's CPU time.

    CPU seconds come from the children's rusage, which counts only finished children, so
    the difference around one ``subprocess.run`` is that command's (TensorFlow's threads
    included).
    """
    print(f"  $ alexedge {' '.join(command[3:])}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"    {wall / 60:.1f} min wall, {cpu / 60:.1f} CPU-min, exit {done.returncode}")
    return Timed(command, str(log), wall, cpu, done.returncode)


def _error_line(step: Timed) -> str:
    lines = Path(step.log).read_text(errors="replace").strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1]


def build_view(source: Path, per_class: int, dest: Path) -> Path:
    """A Tiny ImageNet folder of symlinks: ``per_class`` training images, every val image.

    Symlinks keep the view free to build and leave the shared data untouched; the
    validation split is linked whole so every view is scored on the same images.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("wnids.txt", "words.txt", "val"):
        if (source / name).exists() and not (dest / name).exists():
            (dest / name).symlink_to((source / name).resolve())
    for wnid in (source / "wnids.txt").read_text().split():
        images = sorted(
            p
            for p in (source / "train" / wnid / "images").iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES
        )
        target = dest / "train" / wnid / "images"
        target.mkdir(parents=True, exist_ok=True)
        for image in images[:per_class]:
            link = target / image.name
            if not link.exists():
                link.symlink_to(image.resolve())
    return dest


def _train_result(result: ArmResult, run: Path, step: Timed) -> ArmResult:
    """Fill ``result`` from a finished run folder's metrics.json and its log's recipe line."""
    result.steps.append(step)
    if step.returncode:
        result.error = _error_line(step)
        return result
    metrics = json.loads((run / "metrics.json").read_text())
    result.top1, result.top5 = metrics["centre_crop"]["top1"], metrics["centre_crop"]["top5"]
    ten = metrics.get("ten_crop") or {}
    result.ten_crop_top1, result.ten_crop_top5 = ten.get("top1"), ten.get("top5")
    result.weights, result.epochs = metrics.get("weights", ""), metrics.get("epochs")
    log = Path(step.log).read_text(errors="replace").splitlines()
    result.recipe = next((line for line in log if line.startswith("recipe:")), "")
    return result


def train_arm(
    result: ArmResult, view: Path, out: Path, budget: float, backbone: Path | None = None
) -> ArmResult:
    """Scratch (no backbone) or fine-tune (``--init-from backbone``) on one view."""
    run = out / result.arm
    command = _cli("train", "--data", view, "--out", run)
    if backbone is not None:
        command += ["--init-from", str(backbone)]
    if budget:
        command += ["--time-budget", f"{budget:g}"]
    return _train_result(result, run, run_timed(command, out / f"{result.arm}.log"))


def probe_arm(result: ArmResult, view: Path, out: Path, backbone: Path) -> ArmResult:
    """Embed the view's train and val images with the backbone, then the linear probe."""
    folder = out / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        command = _cli("embed", backbone, view, "--split", split, "--out", folder / f"{split}.npz")
        result.steps.append(run_timed(command, out / f"embed-{split}.log"))
        if result.steps[-1].returncode:
            result.error = _error_line(result.steps[-1])
            return result
    report = folder / "probe.json"
    command = _cli("probe", folder / "train.npz", folder / "val.npz", "--out", report)
    result.steps.append(run_timed(command, out / "probe.log"))
    if result.steps[-1].returncode:
        result.error = _error_line(result.steps[-1])
        return result
    scores = json.loads(report.read_text())
    result.top1, result.top5 = scores["top1"], scores["top5"]
    result.recipe = f"logistic regression on {scores['layer']} ({scores['dimensions']} values)"
    return result


def pretrain(args: argparse.Namespace, out: Path) -> tuple[Path, Timed | None]:
    """The backbone: ``--backbone`` as given, else a run trained on the 100-class corpus."""
    if args.backbone:
        return args.backbone, None
    run = out / "backbone"
    command = _cli("train", "--data", args.data / PRETRAIN_NAME, "--out", run)
    if args.backbone_minutes:
        command += ["--time-budget", f"{args.backbone_minutes:g}"]
    print(f"backbone: pretraining on {PRETRAIN_NAME}", flush=True)
    step = run_timed(command, out / "backbone.log")
    if step.returncode:
        sys.exit(f"pretraining failed: {_error_line(step)} (log: {step.log})")
    return run, step


def run_view(
    args: argparse.Namespace, backbone: Path, key: str, per_class: int, out: Path
) -> list[ArmResult]:
    """Every arm not skipped on one subset at one number of images per class."""
    view = build_view(args.data / SUBSET_NAMES[key], per_class, out / "view")
    print(f"subset {key} ({SUBSET_NAMES[key]}), {per_class} per class: {view}", flush=True)
    results = []
    for arm in (a for a in ARMS if a not in args.skip):
        result = ArmResult(key, per_class, arm)
        if arm == "probe":
            results.append(probe_arm(result, view, out, backbone))
        else:
            tuned = backbone if arm == "finetune" else None
            results.append(train_arm(result, view, out, args.budget_minutes, tuned))
        if result.error:
            print(f"    failed: {result.error}", flush=True)
    return results


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(results: list[ArmResult], hardware: str) -> list[str]:
    """The markdown table, one row per arm; times name the machine they were taken on."""
    lines = [
        f"Times on {hardware}.",
        "",
        "| subset | per class | arm | top-1 | top-5 | 10-crop top-1 | minutes | CPU-min "
        "| recipe / weights |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.subset, r.per_class, ARMS.index(r.arm))):
        what = f"failed: {r.error}" if r.error else "; ".join(filter(None, (r.recipe, r.weights)))
        lines.append(
            f"| {r.subset} | {r.per_class} | {r.arm} | {_pct(r.top1)} | {_pct(r.top5)} | "
            f"{_pct(r.ten_crop_top1)} | {r.minutes:.1f} | {r.cpu_minutes:.1f} | {what} |"
        )
    return lines


def floors(results: list[ArmResult]) -> list[str]:
    """Issue 31's floors as differences and ratios, for the views that were run."""
    found = {(r.subset, r.per_class, r.arm): r for r in results if r.top1 is not None}
    lines = []
    for (key, per_class, arm), tuned in sorted(found.items()):
        if arm != "finetune":
            continue
        scratch = found.get((key, per_class, "scratch"))
        if per_class == 50 and scratch:
            gain = tuned.top1 - scratch.top1
            lines.append(
                f"subset {key} at 50 per class: fine-tune - scratch = {100 * gain:+.1f} pt "
                f"(floor +{100 * GAIN_AT_50:.0f} pt: {'met' if gain >= GAIN_AT_50 else 'NOT met'})"
            )
        if per_class == 500:
            lines.append(_preset_floor(key, tuned, scratch))
    return lines


def _preset_floor(key: str, tuned: ArmResult, scratch: ArmResult | None) -> str:
    top1, minutes = PRESET_REFERENCE[key]
    gain = tuned.top1 - top1
    met = gain >= GAIN_AT_500
    line = (
        f"subset {key} at 500 per class: fine-tune - preset ({100 * top1:.1f}%) = "
        f"{100 * gain:+.1f} pt (floor +{100 * GAIN_AT_500:.0f} pt: {'met' if met else 'NOT met'});"
        f" time / preset's {minutes} min on {PRESET_HARDWARE} = {tuned.minutes / minutes:.2f}"
    )
    if scratch:
        share = tuned.minutes / scratch.minutes
        line += f"; / this machine's scratch run = {share:.2f} (floor < {TIME_SHARE_AT_500:.2f})"
    return line


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", type=Path, default=None, help="a pretrained run folder")
    parser.add_argument(
        "--backbone-minutes", type=float, default=0.0, help="--time-budget of the pretraining"
    )
    parser.add_argument("--subsets", nargs="+", default=["a", "b"], choices=sorted(SUBSET_NAMES))
    parser.add_argument("--per-class", nargs="+", type=int, default=[50, 500])
    parser.add_argument(
        "--budget-minutes", type=float, default=0.0, help="--time-budget of scratch and fine-tune"
    )
    parser.add_argument("--skip", default="", help="arms to leave out, e.g. scratch,probe")
    parser.add_argument("--data", type=Path, default=SHARED, help="folder of the datasets")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.skip = {a for a in args.skip.split(",") if a}
    if args.skip - set(ARMS):
        parser.error(f"--skip takes {', '.join(ARMS)}; got {', '.join(sorted(args.skip))}")
    return args


def main() -> None:
    args = _parse()
    hardware = hardware_line()
    print(f"hardware: {hardware}", flush=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("/tmp") / "alexedge-bench" / f"transfer-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    backbone, pretraining = pretrain(args, out)
    results = earlier_results(out / "transfer.json")
    for key in args.subsets:
        for per_class in args.per_class:
            fresh = run_view(args, backbone, key, per_class, out / f"{key}-{per_class}")
            ran = {(r.subset, r.per_class, r.arm) for r in fresh}
            results = [r for r in results if (r.subset, r.per_class, r.arm) not in ran] + fresh
            _write(out, hardware, backbone, pretraining, results)
    print()
    print("\n".join([*table(results, hardware), "", *floors(results)]))


def earlier_results(path: Path) -> list[ArmResult]:
    """The arms an earlier invocation with the same ``--out`` measured.

    Kept so a plan can run in pieces (``--skip``, one subset at a time, a crash) and
    still get one table and the floors; an arm run again replaces its earlier row.
    """
    if not path.is_file():
        return []
    results = []
    for row in json.loads(path.read_text())["results"]:
        row = {k: v for k, v in row.items() if k not in ("minutes", "cpu_minutes")}
        row["steps"] = [Timed(**step) for step in row["steps"]]
        results.append(ArmResult(**row))
    return results


def _write(
    out: Path, hardware: str, backbone: Path, pretraining: Timed | None, results: list[ArmResult]
) -> None:
    """transfer.json after every view, so a stopped benchmark keeps what it measured."""
    doc: dict[str, Any] = {
        "hardware": describe_hardware(),
        "hardware_line": hardware,
        "backbone": str(backbone),
        "pretraining": pretraining and asdict(pretraining),
        "results": [
            asdict(r) | {"minutes": r.minutes, "cpu_minutes": r.cpu_minutes} for r in results
        ],
        "floors": floors(results),
        "loadavg": os.getloadavg(),
    }
    write_json(out / "transfer.json", doc)


if __name__ == "__main__":
    main()
