"""Accuracy-aware compression search (issue 32) on finished runs: what ``--max-loss`` finds.

For each run given with ``--run`` (copied into ``--out`` first; the given folder is never
written), ``search_run`` with the default ladder: the selected file, how many times
smaller than the float32 file it is after gzip, its loss on the selection images (what
chose it) and on the reporting images (what it is reported with, with the paired flips),
and the time the search took. Goal of the issue: on the ``tiny-imagenet`` preset's run of
each 20-class subset, ``--max-loss 1`` finds a file at least 25x smaller than the float32
file after gzip.

Not part of CI; never asserts. "x smaller after gzip" is the float32 file's raw bytes
over the selected file's gzip -9 bytes, both from the same run. Usage::

    python benchmarks/bench_search.py --run RUN [--run RUN2] [--max-loss 1]
        [--max-class-loss 5] [--objective size] [--budget 120] [--finetune-epochs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from alexedge.compress.config import CompressConfig
from alexedge.compress.search.config import SearchConfig
from alexedge.hardware import hardware_line


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _search(run: Path, out: Path, args: argparse.Namespace) -> dict[str, object]:
    from alexedge.compress.search.runner import search_run

    copy = out / run.name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("variants*", "android_assets"))
    config = CompressConfig(finetune_epochs=args.finetune_epochs)
    search = SearchConfig(
        max_loss=args.max_loss,
        max_class_loss=args.max_class_loss,
        objective=args.objective,
        budget_minutes=args.budget,
    )
    start = time.perf_counter()
    result = search_run(copy, config, search, say=_say)
    seconds = time.perf_counter() - start
    doc = result.doc
    rows = {v["name"]: v for v in doc["variants"]}
    record = doc["search"]
    selected = rows.get(record["selected"] or "")
    reporting = record["reporting"]
    candidates = record["candidates"]
    chosen = next((c for c in candidates if c["name"] == record["selected"]), {})
    return {
        "run": run.name,
        "selected": record["selected"],
        "x_smaller_gzip": rows["float32"]["bytes"] / selected["gzip_bytes"] if selected else None,
        "loss_selection": chosen.get("loss"),
        "loss_reporting": reporting.get("loss"),
        "flips": reporting.get("flips"),
        "measured": sum("loss" in c for c in candidates),
        "skipped": sum("loss" not in c for c in candidates),
        "stopped": record["stopped"],
        "minutes": seconds / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/alexedge-bench-search"))
    parser.add_argument("--max-loss", type=float, default=1.0)
    parser.add_argument("--max-class-loss", type=float, default=None)
    parser.add_argument("--objective", default="size")
    parser.add_argument("--budget", type=float, default=120.0, help="minutes per run")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    args = parser.parse_args()
    print(hardware_line())
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [_search(run, args.out, args) for run in args.run]
    print(f"--max-loss {args.max_loss:g}, objective {args.objective}, budget {args.budget:g} min")
    for r in results:
        ratio = f"{r['x_smaller_gzip']:.1f}x" if r["x_smaller_gzip"] else "-"
        flips = r["flips"] or {}
        print(
            f"{r['run']}: {r['selected']}  {ratio} smaller after gzip; loss "
            f"{r['loss_selection']} pt selecting, {r['loss_reporting']} pt reporting "
            f"(lost {flips.get('lost')}, gained {flips.get('gained')} of {flips.get('images')}); "
            f"{r['measured']} measured, {r['skipped']} skipped, {r['stopped']}, "
            f"{r['minutes']:.1f} min"
        )


if __name__ == "__main__":
    main()
