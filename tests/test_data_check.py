"""``check_images`` finds every unreadable file, with its reason, and nothing else.

Training (``read_base_image``) and ``data fetch`` (``check_content``) must refuse the
same files, damaged JPEG and PNG data that Pillow decodes anyway included.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from image_files import write_bomb_png, write_image, write_odd_formats, write_truncated_jpeg
from PIL import Image

from alexedge.data.check import check_images, format_check_report
from alexedge.data.decode import read_base_image
from alexedge.data.fetch.types import Failure
from alexedge.data.fetch.verify import DecodeBudget, check_content
from alexedge.errors import DataError
from alexedge.preprocess import load_rgb


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


# --- damaged data that Pillow decodes anyway (issue 35) --------------------------


def _noise_body_jpeg(path: Path, seed: int = 0) -> Path:
    """A valid JPEG header whose entropy-coded data is 200 KB of random (stuffed) bytes."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    sos = data.index(b"\xff\xda")
    header = data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")]
    body = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes().replace(b"\xff", b"\xff\x00")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + b"\xff\xd9")
    return path


def _bad_idat_crc_png(path: Path) -> Path:
    """A PNG whose pixel chunk fails its CRC; Pillow skips that CRC."""
    write_image(path, 16, 5)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_damaged_data_pillow_accepts_is_refused_by_check_fetch_and_training(
    tmp_path: Path,
) -> None:
    good = [write_image(tmp_path / "a" / "good.jpg", 64), *write_odd_formats(tmp_path / "b")]
    damaged = [
        _noise_body_jpeg(tmp_path / "a" / "noise.jpg"),
        _bad_idat_crc_png(tmp_path / "a" / "crc.png"),
    ]
    for path in damaged:
        load_rgb(path)  # Pillow decodes both without a word
    report = check_images(tmp_path, workers=2)
    assert {Path(p).name: reason.split(" (")[0] for p, reason in report.bad} == {
        "noise.jpg": "corrupt data",
        "crc.png": "corrupt data",
    }
    # training skips exactly those, and data fetch would not have kept them
    unusable = [p.name for p in good + damaged if isinstance(read_base_image(str(p), 8), str)]
    assert unusable == ["noise.jpg", "crc.png"]
    budget = DecodeBudget(10_000_000)
    for path in good:
        check_content(path.read_bytes(), 0, budget)
    reasons = []
    for path in damaged:
        with pytest.raises(Failure) as failure:
            check_content(path.read_bytes(), 0, budget)
        reasons.append(failure.value.reason)
    assert reasons == ["corrupt", "not_image"]
