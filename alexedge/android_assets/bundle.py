"""Write ``model.tflite``, ``labels.txt`` and ``manifest.json`` as one atomic folder.

The folder is assembled in a temporary sibling and renamed into place, so an app
build never picks up a half-written bundle. Embedded TFLite metadata (labels and
normalization inside the flatbuffer) belongs in ``metadata.py`` when it lands; the
manifest already records everything that metadata will carry.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.errors import AlexEdgeError

__all__ = ["AndroidBundle", "write_android_assets"]


@dataclass(frozen=True)
class AndroidBundle:
    folder: Path
    model_bytes: int
    sha256: str


def write_android_assets(
    model_path: Path,
    labels: list[str],
    out: Path,
    manifest_extra: dict[str, Any],
    force: bool = False,
) -> AndroidBundle:
    """Bundle one variant; refuses a non-empty ``out`` unless ``force``."""
    if out.exists() and any(out.iterdir()) and not force:
        raise AlexEdgeError(f"{out}: folder exists and is not empty (use --force to replace it)")
    data = model_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_bytes(tmp / "model.tflite", data)
        write_text(tmp / "labels.txt", "".join(f"{label}\n" for label in labels))
        manifest = {
            "model": "model.tflite",
            "labels": "labels.txt",
            "num_classes": len(labels),
            "size_bytes": len(data),
            "sha256": digest,
            **manifest_extra,
        }
        write_json(tmp / "manifest.json", manifest)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return AndroidBundle(out, len(data), digest)
