"""The run folder contract: which file holds what, shared by train, compress, evaluate, report.

A run folder is self-describing: ``dataset.json`` + ``classes.txt`` say how to load
the exact same dataset again (root, layout, classes, split seed), so ``alexedge
compress RUN`` or ``alexedge evaluate RUN`` need no options repeated by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from alexedge.atomic import write_json, write_text
from alexedge.data.dataset import ImageDataset, load_dataset
from alexedge.errors import ConfigError, DataError, ModelError

__all__ = [
    "BEST_MODEL",
    "CLASSES",
    "DATASET",
    "DATA_STATS",
    "HISTORY",
    "LABELS",
    "LAST_MODEL",
    "METRICS",
    "PIPELINE_MARKER",
    "PREDICTIONS",
    "TRAIN_CONFIG",
    "VARIANTS_DIR",
    "VARIANTS_JSON",
    "DatasetRef",
    "check_new_run_folder",
    "check_replaceable_folder",
    "check_trained_run",
    "read_dataset_ref",
    "reload_dataset",
    "remove_stale_temporaries",
    "write_dataset_ref",
]

TRAIN_CONFIG = "config.json"
LABELS = "labels.txt"
CLASSES = "classes.txt"
DATASET = "dataset.json"
DATA_STATS = "data_stats.json"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
VARIANTS_DIR = "variants"
VARIANTS_JSON = "variants.json"
# Written first by ``alexedge pipeline``: marks a folder that ``--force`` may replace.
PIPELINE_MARKER = "pipeline.json"
# Top-1 per validation image of every Keras model and variant (``compress``), for the report.
PREDICTIONS = "predictions.npz"


@dataclass(frozen=True)
class DatasetRef:
    root: str
    layout: str
    class_ids: tuple[str, ...]
    val_fraction: float
    seed: int


def write_dataset_ref(run_dir: Path, dataset: ImageDataset, val_fraction: float, seed: int) -> None:
    ref = DatasetRef(
        str(Path(dataset.root).resolve()), dataset.layout, dataset.class_ids, val_fraction, seed
    )
    write_json(run_dir / DATASET, asdict(ref))
    write_text(run_dir / CLASSES, "".join(f"{c}\n" for c in dataset.class_ids))
    write_text(run_dir / LABELS, "".join(f"{n}\n" for n in dataset.class_names))


def read_dataset_ref(run_dir: Path) -> DatasetRef:
    path = run_dir / DATASET
    if not path.is_file():
        raise DataError(f"{run_dir}: not a training run folder (no {DATASET})")
    d = json.loads(path.read_text())
    return DatasetRef(d["root"], d["layout"], tuple(d["class_ids"]), d["val_fraction"], d["seed"])


def reload_dataset(run_dir: Path, root: Path | None = None) -> ImageDataset:
    """The run's dataset again: same classes, same label order, same split.

    ``root`` overrides the recorded location (the data moved, or evaluate on
    another copy with the same layout).
    """
    ref = read_dataset_ref(run_dir)
    return load_dataset(
        root or ref.root,
        layout=ref.layout,
        classes_file=run_dir / CLASSES,
        val_fraction=ref.val_fraction,
        seed=ref.seed,
    )


def check_new_run_folder(out: Path, allowed: tuple[str, ...] = ()) -> None:
    """Refuse to train into a folder that holds anything but ``allowed`` names.

    ``allowed`` lets the pipeline train into the folder it made (its marker and data).
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(p.name not in allowed for p in out.iterdir()):
        raise ConfigError(
            f"{out}: folder exists and is not empty; continue it with --resume {out} "
            "or choose another --out"
        )


def check_replaceable_folder(out: Path, force: bool) -> None:
    """Refuse a non-empty folder unless ``force`` and it is an earlier pipeline run.

    ``--force`` deletes the folder, so it is only honoured for folders this tool
    made (they hold ``PIPELINE_MARKER``): a typo cannot wipe a home directory.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        raise ConfigError(f"{out}: folder exists and is not empty (use --force to replace it)")
    if not (out / PIPELINE_MARKER).is_file():
        raise ConfigError(f"{out}: not an alexedge run folder; refusing to delete it with --force")


def check_trained_run(run_dir: Path) -> None:
    """Refuse a folder that is not a finished training run (no TensorFlow needed)."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run folder")
    if not (run_dir / BEST_MODEL).is_file():
        raise ModelError(
            f"{run_dir}: no trained model ({BEST_MODEL}); train one first "
            "(alexedge train --data DIR --out RUN, or alexedge pipeline --out RUN)"
        )
    for name in (TRAIN_CONFIG, DATA_STATS, DATASET):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir}: incomplete run folder, {name} is missing")


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete what a killed writer left: ``alexedge.atomic`` writes ``.<name>.<random>.tmp*``
    and renames it, so a kill leaves such a file behind, never a half-written real one."""
    for path in run_dir.glob(".*.tmp*"):
        if path.is_file():
            path.unlink(missing_ok=True)
