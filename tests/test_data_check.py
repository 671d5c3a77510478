"""``check_images`` finds every unreadable file, with its reason, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_files import write_bomb_png, write_image, write_odd_formats, write_truncated_jpeg

from alexedge.data.check import check_images, format_check_report
from alexedge.errors import DataError


def _mixed_folder(root: Path) -> dict[str, str]:
    """Good files of every odd format plus one of each kind of bad file -> expected reason."""
    write_image(root / "cat" / "good.jpg")
    write_image(root / "cat" / "good.gif")
    write_odd_formats(root / "dog")
    write_truncated_jpeg(root / "cat" / "truncated.jpg")
    (root / "dog" / "empty.jpg").write_bytes(b"")
    (root / "dog" / "page.JPEG").write_text("<html><body>Photo removed</body></html>")
    write_bomb_png(root / "dog" / "bomb.png")
    (root / "dog" / "notes.txt").write_text("not an image suffix: not checked")
    return {
        "cat/truncated.jpg": "truncated",
        "dog/bomb.png": "decompression bomb",
        "dog/empty.jpg": "empty file",
        "dog/page.JPEG": "not an image",
    }


def test_report_lists_every_bad_file_with_its_reason(tmp_path: Path) -> None:
    expected = _mixed_folder(tmp_path)
    report = check_images(tmp_path, workers=2)
    assert report.checked == 10 and not report.ok
    found = {str(Path(p).relative_to(tmp_path)): reason for p, reason in report.bad}
    assert set(found) == set(expected)
    for name, reason in expected.items():
        assert reason in found[name], (name, found[name])
        assert str(tmp_path) not in found[name]  # the path is its own column
    text = format_check_report(report)
    assert text.splitlines()[0].startswith("cat/truncated.jpg: ")
    assert text.splitlines()[-1].startswith("4 of 10 image files")


def test_clean_folder_is_ok(tmp_path: Path) -> None:
    write_odd_formats(tmp_path / "a")
    report = check_images(tmp_path)
    assert report.ok and report.checked == 4 and report.bad == ()
    assert format_check_report(report) == f"all 4 image files in {tmp_path} are readable"


def test_check_needs_a_folder_with_images(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        check_images(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no image files"):
        check_images(tmp_path)
