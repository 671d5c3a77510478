"""Write an app bundle folder all at once: an app build never sees half of one.

The folder is assembled in a temporary sibling and renamed into place. Replacing a
folder (``force``) moves the old one aside just before the rename, so ``out`` is the
complete old bundle or the complete new one (or, for an instant, absent), never a mix.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alexedge.errors import AlexEdgeError

__all__ = ["check_out_folder", "staged_folder"]


# Files every bundle holds: ``force`` replaces only such a folder.
_BUNDLE_MARKERS = ("model.tflite", "manifest.json")


def check_out_folder(out: Path, force: bool, protect: Path | None = None) -> None:
    """Refuse ``out`` before any work is done.

    A non-empty ``out`` needs ``force``, and even then must hold a bundle: a typo like
    ``--out ~ --force`` must not delete a home folder. ``protect`` (the run folder) may
    not be inside ``out``.
    """
    if out.exists() and not out.is_dir():
        raise AlexEdgeError(f"{out}: exists and is not a folder; choose another --out")
    if protect is not None and protect.resolve().is_relative_to(out.resolve()):
        raise AlexEdgeError(
            f"{out}: would replace the run folder {protect}; choose an --out inside or beside it"
        )
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        raise AlexEdgeError(f"{out}: folder exists and is not empty (use --force to replace it)")
    if not all((out / name).is_file() for name in _BUNDLE_MARKERS):
        raise AlexEdgeError(
            f"{out}: --force replaces only a bundle folder (with {' and '.join(_BUNDLE_MARKERS)}),"
            " and this is not one; choose another --out or empty it yourself"
        )


@contextlib.contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success it becomes ``out``.

    On an exception the temporary folder is removed and ``out`` is untouched.
    """
    check_out_folder(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    old = out.parent / f"{tmp.name}.old"
    try:
        yield tmp
        _make_readable(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    """mkdtemp and the atomic writers create private files; a bundle is meant to be shared."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
