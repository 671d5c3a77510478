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
from alexedge.errors import DataError

__all__ = [
    "BEST_MODEL",
    "CLASSES",
    "DATASET",
    "DATA_STATS",
    "HISTORY",
    "LABELS",
    "LAST_MODEL",
    "METRICS",
    "TRAIN_CONFIG",
    "VARIANTS_DIR",
    "VARIANTS_JSON",
    "DatasetRef",
    "read_dataset_ref",
    "reload_dataset",
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
