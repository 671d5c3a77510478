"""``alexedge.data.fetch`` against a real HTTP server on 127.0.0.1.

One module-scoped server plays every kind of host a URL list meets: good photos,
dead links, slow and flaky hosts, redirects, placeholders, HTML error pages and
hostile paths. Each test uses its own URL names, so server hit counts stay per test.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from alexedge.cli import app
from alexedge.data.fetch import (
    MANIFEST_NAME,
    FetchConfig,
    FetchSummary,
    fetch_dataset,
    format_summary,
)
from alexedge.data.fetch.placeholders import placeholder_rule
from alexedge.errors import ConfigError, DataError
from alexedge.preprocess import load_rgb

SLOW_SECONDS = 1.5  # well past the 0.5 s read timeout below, even on a busy machine
MAX_BYTES = 200_000
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+_[0-9a-f]{12}\.(jpg|png)$")


def _noise_image(seed: str, size: int, fmt: str) -> bytes:
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _jpeg(seed: str) -> bytes:
    return _noise_image(seed, 64, "JPEG")


def _png(seed: str) -> bytes:
    return _noise_image(seed, 48, "PNG")


PLACEHOLDER = _jpeg("placeholder")


@dataclass
class _Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sleep_before: float = 0.0
    stall_body: float = 0.0
    send_length: bool = True


class _Host:
    """What the fake host answers for each path prefix, and how often it was asked."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.enabled: set[str] = set()
        self._lock = threading.Lock()

    def hit(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def reply(self, path: str, hit: int) -> _Reply:
        prefix = path.split("/")[1] if path.count("/") >= 2 else ""
        image = _Reply(body=_jpeg(path), headers={"Content-Type": "image/jpeg"})
        if "evil" in path or "escape" in path:
            return image
        routes = {
            "img": lambda: image,
            "png": lambda: _Reply(body=_png(path), headers={"Content-Type": "image/png"}),
            "redirect": lambda: _Reply(302, headers={"Location": "/img/" + path.split("/")[-1]}),
            "loop": lambda: _Reply(302, headers={"Location": path}),
            "slow-head": lambda: _Reply(body=_jpeg(path), sleep_before=SLOW_SECONDS),
            "slow-body": lambda: _Reply(body=_jpeg(path), stall_body=SLOW_SECONDS),
            "flaky": lambda: image if hit > 1 else _Reply(500, b"oops"),
            "always500": lambda: _Reply(500, b"oops"),
            "busy": lambda: _Reply(429, headers={"Retry-After": "0"}),
            "placeholder": lambda: _Reply(body=PLACEHOLDER),
            "tiny": lambda: _Reply(body=_noise_image(path, 8, "PNG")),
            "html": lambda: _Reply(body=b"<html>" + b"<p>gone</p>" * 600 + b"</html>"),
            "huge": lambda: _Reply(body=b"\xff" * (MAX_BYTES + 100_000)),
            "huge-stream": lambda: _Reply(body=b"\xff" * (MAX_BYTES + 100_000), send_length=False),
            "toggle": lambda: image if path in self.enabled else _Reply(404, b"not yet"),
        }
        return routes.get(prefix, lambda: _Reply(404, b"no such photo"))()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host: _Host = self.server.host  # type: ignore[attr-defined]
        reply = host.reply(self.path, host.hit(self.path))
        try:
            time.sleep(reply.sleep_before)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.send_length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.stall_body:
                self.wfile.write(reply.body[:100])
                self.wfile.flush()
                time.sleep(reply.stall_body)
                reply = _Reply(body=reply.body[100:])
            self.wfile.write(reply.body)
        except OSError:  # the client gave up first, as it should
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class _Server:
    base: str
    host: _Host


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.host = _Host()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1")  # a developer's proxy must not see these
        yield _Server(f"http://127.0.0.1:{httpd.server_port}", httpd.host)  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp: Path, **overrides: object) -> FetchConfig:
    options: dict[str, object] = dict(
        lists=tmp / "lists",
        out=tmp / "out",
        workers=4,
        connect_timeout=1.0,
        read_timeout=0.5,
        retries=1,
        backoff=0.01,
        max_bytes=MAX_BYTES,
        min_bytes=5_000,
        placeholder_threshold=3,
        progress=False,
        allow_private_hosts=True,  # the server is on 127.0.0.1
    )
    options.update(overrides)
    return FetchConfig(**options)  # type: ignore[arg-type]


def _write_lists(folder: Path, lists: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for cls, lines in lists.items():
        (folder / f"{cls}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _manifest(out: Path) -> dict[str, dict]:
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    latest = {}
    for line in lines:
        record = json.loads(line)  # every line must be valid JSON
        latest[record["url"]] = record
    return latest


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _assert_nothing_outside(out: Path, before: set[Path], root: Path) -> None:
    """No file created below ``root`` during the run, nor any file named after a
    hostile URL, lies outside ``out``."""
    inside = out.resolve()
    outside = sorted(
        str(p) for p in _files(root) - before if not p.resolve().is_relative_to(inside)
    )
    assert outside == []
    stray = [p for p in _files(root) if re.search(r"evil|escape\d", p.name)]
    assert [p for p in stray if not p.resolve().is_relative_to(inside)] == []


# --- the full zoo in one run ------------------------------------------------------


@dataclass
class _FullRun:
    summary: FetchSummary
    out: Path
    base: str
    host: _Host
    files_before: set[Path]
    root: Path


@pytest.fixture(scope="module")
def full_run(server: _Server, tmp_path_factory: pytest.TempPathFactory) -> _FullRun:
    tmp = tmp_path_factory.mktemp("full")
    root = tmp.parent  # this session's base temp, where ../../ escapes from out/dogs land
    b = server.base
    cats = [
        "# cats, as ImageNet listed them",
        f"{b}/img/cat1.jpg",
        f"{b}/img/cat2.jpg",
        f"{b}/png/cat3.jpg",  # PNG behind a .jpg URL
        f"{b}/redirect/cat4.jpg",
        f"{b}/flaky/cat5.jpg",
        f"{b}/img/cat1.jpg",  # duplicate line
        "",
        f"{b}/missing/a.jpg",
        f"{b}/slow-head/a.jpg",
        f"{b}/slow-body/a.jpg",
        f"{b}/always500/a.jpg",
        f"{b}/busy/a.jpg",
        f"{b}/loop/a.jpg",
        f"{b}/tiny/a.png",
        f"{b}/html/a.jpg",
        f"{b}/huge/a.jpg",
        f"{b}/huge-stream/a.jpg",
        "ftp://example.com/a.jpg",
        "not a url",
        f"http://127.0.0.1:{_closed_port()}/a.jpg",
        f"{b}/placeholder/1.jpg",
        f"{b}/placeholder/2.jpg",
    ]
    dogs = [
        f"{b}/img/dog1.jpg",
        f"{b}/img/dog2.jpg",
        f"{b}/evil/..%2F..%2F..%2Fescape1.jpg",
        f"{b}/evil/%2e%2e/%2e%2e/escape2.jpg",
        f"{b}/evil/..\\..\\..\\escape3.jpg",
        f"{b}/evil/%252e%252e%252fC:%5Cescape4.jpg",
        f"{b}/placeholder/3.jpg",
        f"{b}/placeholder/4.jpg",
    ]
    _write_lists(tmp / "lists", {"cats": cats, "dogs": dogs})
    before = _files(root)
    summary = fetch_dataset(_config(tmp))
    return _FullRun(summary, tmp / "out", b, server.host, before, root)


def test_counts_by_reason(full_run: _FullRun) -> None:
    assert full_run.summary.failures_by_reason == {
        "bad_url": 2,
        "connection_error": 1,
        "http_404": 1,
        "http_429": 1,
        "http_500": 1,
        "not_image": 1,
        "placeholder": 4,
        "timeout": 2,
        "too_large": 2,
        "too_many_redirects": 1,
        "too_small": 1,
    }
    assert full_run.summary.downloaded == 11  # cat1-5, dog1-2, escape1-4
    assert full_run.summary.failed == 17
    assert full_run.summary.skipped_done == full_run.summary.skipped_failed == 0


def test_saved_files_are_checked_images_named_from_the_url(full_run: _FullRun) -> None:
    out = full_run.out
    images = _files(out) - {out / MANIFEST_NAME}
    assert {p.parent for p in images} == {out / "cats", out / "dogs"}
    assert len(images) == full_run.summary.downloaded
    for path in images:
        assert SAFE_NAME.match(path.name), path.name
        assert path.stat().st_size >= 5_000
        load_rgb(path)
        with Image.open(path) as img:
            assert path.suffix == {"JPEG": ".jpg", "PNG": ".png"}[img.format]
    names = {p.name.split("_")[0] for p in images}
    assert {"cat1", "cat2", "cat3", "cat4", "cat5", "dog1", "dog2"} <= names
    assert next((out / "cats").glob("cat3_*")).suffix == ".png"  # format beats URL


def test_nothing_written_outside_out(full_run: _FullRun) -> None:
    _assert_nothing_outside(full_run.out, full_run.files_before, full_run.root)
    hostile = [r for r in _manifest(full_run.out).values() if "evil" in r["url"]]
    assert len(hostile) == 4
    assert all(r["status"] == "done" and r["path"].startswith("dogs/") for r in hostile)


def test_manifest_matches_files(full_run: _FullRun) -> None:
    records = _manifest(full_run.out)
    assert len(records) == 28
    for record in records.values():
        if record["status"] == "done":
            data = (full_run.out / record["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["sha256"]
            assert len(data) == record["bytes"]
        else:
            assert record["reason"]
            assert "path" not in record


def test_placeholder_removed_everywhere(full_run: _FullRun) -> None:
    records = _manifest(full_run.out)
    placeholder_urls = {u for u in records if "/placeholder/" in u}
    assert len(placeholder_urls) == 4
    assert all(records[u]["reason"] == "placeholder" for u in placeholder_urls)
    sha = hashlib.sha256(PLACEHOLDER).hexdigest()
    on_disk = {hashlib.sha256(p.read_bytes()).hexdigest() for p in full_run.out.rglob("*_*.*")}
    assert sha not in on_disk


def test_retries_only_retryable_failures(full_run: _FullRun) -> None:
    hits = full_run.host.hits
    assert hits["/flaky/cat5.jpg"] == 2  # 500, then the photo
    assert hits["/always500/a.jpg"] == 2  # retries=1
    assert hits["/busy/a.jpg"] == 2
    assert hits["/slow-head/a.jpg"] == 2
    assert hits["/missing/a.jpg"] == 1  # a 404 does not come back
    assert hits["/html/a.jpg"] == 1
    assert hits["/loop/a.jpg"] == 6  # first request plus 5 redirects, then give up


def test_second_run_downloads_nothing(full_run: _FullRun) -> None:
    hits_before = full_run.host.hits.copy()
    config = _config(full_run.out.parent)
    summary = fetch_dataset(config)
    assert summary.downloaded == 0
    assert summary.skipped_done == full_run.summary.downloaded
    assert summary.failed == summary.skipped_failed == full_run.summary.failed
    assert summary.failures_by_reason == full_run.summary.failures_by_reason
    assert full_run.host.hits == hits_before


# --- resuming ---------------------------------------------------------------------


def test_resume_retry_failed_and_refetch_deleted(server: _Server, tmp_path: Path) -> None:
    b = server.base
    lists = {"birds": [f"{b}/img/r1.jpg", f"{b}/img/r2.jpg", f"{b}/toggle/r3.jpg"]}
    lists["fish"] = [f"{b}/missing/r4.jpg"]
    _write_lists(tmp_path / "lists", lists)
    first = fetch_dataset(_config(tmp_path))
    assert (first.downloaded, first.failed, first.failures_by_reason) == (2, 2, {"http_404": 2})

    second = fetch_dataset(_config(tmp_path))
    assert (second.downloaded, second.skipped_done, second.skipped_failed) == (0, 2, 2)
    assert server.host.hits["/toggle/r3.jpg"] == 1
    assert "--retry-failed" in format_summary(second)

    server.host.enabled.add("/toggle/r3.jpg")
    third = fetch_dataset(_config(tmp_path, retry_failed=True))
    assert (third.downloaded, third.skipped_done, third.failed) == (1, 2, 1)
    assert third.skipped_failed == 0
    assert server.host.hits["/missing/r4.jpg"] == 2
    assert len(list((tmp_path / "out" / "birds").iterdir())) == 3

    next((tmp_path / "out" / "birds").glob("r1_*")).unlink()
    fourth = fetch_dataset(_config(tmp_path))
    assert (fourth.downloaded, fourth.skipped_done) == (1, 2)
    assert server.host.hits["/img/r1.jpg"] == 2


def test_placeholder_found_in_a_later_run_removes_earlier_files(
    server: _Server, tmp_path: Path
) -> None:
    b = server.base
    _write_lists(tmp_path / "lists", {"owls": [f"{b}/placeholder/o1", f"{b}/placeholder/o2"]})
    first = fetch_dataset(_config(tmp_path))
    assert (first.downloaded, first.duplicates) == (1, 1)  # two copies: one photo, kept once
    assert len(list((tmp_path / "out" / "owls").iterdir())) == 1

    owls_and_bats = {"owls": [f"{b}/placeholder/o1", f"{b}/placeholder/o2"]}
    owls_and_bats["bats"] = [f"{b}/placeholder/o3"]
    _write_lists(tmp_path / "lists", owls_and_bats)
    second = fetch_dataset(_config(tmp_path))
    assert second.failures_by_reason == {"placeholder": 3}
    assert list((tmp_path / "out" / "owls").iterdir()) == []
    assert second.skipped_done == second.downloaded == 0
    assert not (tmp_path / "out" / "bats").exists()  # the third copy is never written
    records = _manifest(tmp_path / "out").values()
    assert {(r["reason"], r["rule"]) for r in records} == {("placeholder", "several_classes")}


@pytest.mark.parametrize(
    ("keys", "rule"),
    [
        ([("cats", "http://a.org/1.jpg")], None),
        # mirrors of one photo in one class, however many hosts: a duplicate
        ([("cats", f"http://{h}.org/1.jpg") for h in "abcdef"], None),
        # URLs that differ after '#' are one URL
        ([("cats", f"http://a.org/1.jpg#{i}") for i in range(5)], None),
        ([("cats", "http://a.org/1.jpg#x"), ("dogs", "http://a.org/1.jpg#y")], None),
        # a photo filed under two classes
        ([("cats", "http://a.org/1.jpg"), ("dogs", "http://b.org/2.jpg")], None),
        (
            [
                ("cats", "http://a.org/1.jpg"),
                ("cats", "http://b.org/2.jpg"),
                ("dogs", "http://c.org/3.jpg"),
            ],
            "several_classes",
        ),
        ([("cats", f"http://a.org/{i}.jpg") for i in range(3)], "one_host"),
        ([("cats", f"http://a.org/p?id={i}") for i in range(3)], "one_host"),
        (
            [("cats", f"http://A.org/{i}.jpg") for i in range(2)] + [("cats", "http://a.org/x")],
            "one_host",
        ),
    ],
)
def test_placeholder_rule(keys: list[tuple[str, str]], rule: str | None) -> None:
    assert placeholder_rule(keys, threshold=3) == rule


def test_torn_manifest_line_is_dropped(server: _Server, tmp_path: Path) -> None:
    _write_lists(tmp_path / "lists", {"ants": [f"{server.base}/img/t1.jpg"]})
    fetch_dataset(_config(tmp_path))
    with open(tmp_path / "out" / MANIFEST_NAME, "a", encoding="utf-8") as f:
        f.write('{"class": "ants", "url": "http://torn')  # a crash mid-write
    summary = fetch_dataset(_config(tmp_path))
    assert (summary.downloaded, summary.skipped_done) == (0, 1)
    assert len(_manifest(tmp_path / "out")) == 1  # rewritten: every line parses


def test_progress_bar_reports_on_stderr(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_lists(tmp_path / "lists", {"bees": [f"{server.base}/img/p1.jpg"]})
    summary = fetch_dataset(_config(tmp_path, progress=True))
    assert summary.downloaded == 1
    assert "Fetching 1 images" in capsys.readouterr().err


# --- refusing to write outside OUT ------------------------------------------------


@pytest.mark.parametrize(
    "list_name", ["..\\..\\evil.txt", "...txt", ".hidden.txt", "a b.txt", "cat\n.txt", "cat.\n.txt"]
)
def test_unsafe_class_file_name_is_refused(server: _Server, tmp_path: Path, list_name: str) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / list_name).write_text(f"{server.base}/img/escape-{len(list_name)}.jpg\n")
    before = _files(tmp_path.parent)
    with pytest.raises(DataError, match="class folder name"):
        fetch_dataset(_config(tmp_path))
    assert _files(tmp_path.parent) - before == set()
    assert server.host.hits[f"/img/escape-{len(list_name)}.jpg"] == 0


def test_symlinked_class_folder_leading_outside_is_refused(server: _Server, tmp_path: Path) -> None:
    _write_lists(tmp_path / "lists", {"cows": [f"{server.base}/img/s1.jpg"]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cows").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DataError, match="outside the output folder"):
        fetch_dataset(_config(tmp_path))
    assert list(elsewhere.iterdir()) == []


# --- configuration and input errors -----------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"workers": 0},
        {"connect_timeout": 0},
        {"read_timeout": -1.0},
        {"retries": -1},
        {"backoff": -0.1},
        {"max_bytes": 0},
        {"min_bytes": -1},
        {"min_bytes": MAX_BYTES + 1},
        {"placeholder_threshold": 1},
        {"deadline": 0},
        {"min_rate": -1.0},
        {"decode_budget": 0},
    ],
)
def test_bad_options_raise_config_error(tmp_path: Path, overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        _config(tmp_path, **overrides)


def test_missing_or_empty_lists_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        fetch_dataset(_config(tmp_path))
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "readme.md").write_text("not a list")
    with pytest.raises(DataError, match=r"no \.txt files"):
        fetch_dataset(_config(tmp_path))


def test_format_summary_lists_reasons_commonest_first() -> None:
    summary = FetchSummary(5, 2, 4, {"http_404": 1, "timeout": 3})
    text = format_summary(summary)
    assert text.splitlines()[0] == "Downloaded 5, already done 2, failed 4."
    assert text.index("timeout") < text.index("http_404")
    assert "--retry-failed" not in text
    assert format_summary(FetchSummary(1, 0, 0, {})) == "Downloaded 1, already done 0, failed 0."


def test_cli_refuses_private_hosts_unless_allowed(server: _Server, tmp_path: Path) -> None:
    _write_lists(tmp_path / "lists", {"yaks": [f"{server.base}/img/cli1.jpg"]})
    args = ["data", "fetch", str(tmp_path / "lists"), str(tmp_path / "out"), "--retries", "0"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 0, refused.output
    assert "blocked_address" in refused.output
    assert server.host.hits["/img/cli1.jpg"] == 0
    allowed = CliRunner().invoke(app, [*args, "--allow-private-hosts", "--retry-failed"])
    assert allowed.exit_code == 0, allowed.output
    assert "Downloaded 1, already done 0, failed 0." in allowed.output
