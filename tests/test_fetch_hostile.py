"""``alexedge data fetch`` against a hostile server on 127.0.0.1 (issues 20 and 35).

Drips and stalls that socket timeouts never see, numbers made of non-ASCII digits,
symlinks planted in OUT, kills and signals mid-run, huge-dimension PNGs, and URLs and
redirects aimed at private networks. The server only binds 127.0.0.1, every slow reply
is bounded in time and ends when the fixture stops it, and a timer stops the whole
server if a test forgets to. Tests of where a download may connect replace the
resolver and ``socket.connect``: names resolve to chosen addresses without a DNS
query, and the only address reachable besides 127.0.0.1 is one "public" address that
is routed to the server, so no packet leaves the machine.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexedge.data.fetch import MANIFEST_NAME, FetchConfig, fetch_dataset, format_summary
from alexedge.data.fetch.address import is_public
from alexedge.data.fetch.http import ascii_int
from alexedge.data.fetch.paths import TEMP_SUFFIX
from alexedge.data.fetch.types import Failure
from alexedge.data.fetch.verify import DecodeBudget, check_content
from alexedge.errors import DataError

DRIP_SECONDS = 0.2  # between bytes: each read returns well inside the read timeout
READ_TIMEOUT = 0.5
DEADLINE = 2.0
SLACK = 1.5  # a busy 2-core machine
SERVER_LIFETIME = 120.0
BIG_SIDE = 9000
BIG_COUNT = 8


def _jpeg(seed: int, side: int = 64) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind))
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _flat_png(side: int, channels: int, comments: list[bytes]) -> list[bytes]:
    """Constant-colour PNGs compressed once (~0.2 MB each), made distinct by a comment."""
    color = {1: 0, 3: 2}[channels]
    row = b"\x00" + bytes(side * channels)
    deflate = zlib.compressobj(9)
    rows_per_piece = 256
    idat = [deflate.compress(row * rows_per_piece) for _ in range(side // rows_per_piece)]
    idat += [deflate.compress(row * (side % rows_per_piece)), deflate.flush()]
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", side, side, 8, color, 0, 0, 0)
    )
    tail = _png_chunk(b"IDAT", b"".join(idat)) + _png_chunk(b"IEND", b"")
    return [head + _png_chunk(b"tEXt", b"Comment\x00" + c) + tail for c in comments]


@functools.cache
def _gzip_bomb() -> bytes:
    return gzip.compress(bytes(30_000_000), compresslevel=1)  # 130 kB on the wire


class _Host:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.big_pngs: list[bytes] = []
        self.redirects: dict[str, str] = {}

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] += 1
            return self.hits[path]

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host: _Host = self.server.host  # type: ignore[attr-defined]
        hit = host.hit(self.path)
        prefix, _, name = self.path.strip("/").partition("/")
        try:
            route = getattr(self, "_" + prefix.replace("-", "_"), self._missing)
            route(host, hit, name)
        except OSError:  # the client hung up, as it should
            pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {"Content-Length": str(len(body))}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _bounded_drip(self, host: _Host, data: bytes) -> None:
        for i in range(len(data)):
            if host.stopping.wait(DRIP_SECONDS):
                return
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()

    def _img(self, host: _Host, hit: int, name: str) -> None:
        self._send(200, _jpeg(sum(name.encode())))

    def _drip_body(self, host: _Host, hit: int, name: str) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self._bounded_drip(host, b"\xff" * 200)  # 40 s at most

    def _drip_headers(self, host: _Host, hit: int, name: str) -> None:
        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
        self._bounded_drip(host, b"X-Slow: " + b"a" * 200)

    def _hang(self, host: _Host, hit: int, name: str) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        host.stopping.wait(30)

    def _superscript_length(self, host: _Host, hit: int, name: str) -> None:
        self._send(200, _jpeg(7), {"Content-Length": "\u00b2"})  # then close: HTTP/1.0

    def _superscript_retry(self, host: _Host, hit: int, name: str) -> None:
        if hit == 1:
            self._send(503, b"busy", {"Retry-After": "\u00b2", "Content-Length": "4"})
        else:
            self._img(host, hit, name)

    def _gzip(self, host: _Host, hit: int, name: str) -> None:
        body = _gzip_bomb() if name == "bomb" else b"\x1f\x8b not gzip at all" * 100
        self._send(200, body, {"Content-Encoding": "gzip", "Content-Length": str(len(body))})

    def _big_png(self, host: _Host, hit: int, name: str) -> None:
        self._send(200, host.big_pngs[int(name)])

    def _noise_body(self, host: _Host, hit: int, name: str) -> None:
        data = _jpeg(5, side=160)
        sos = data.index(b"\xff\xda")
        header = data[: sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")]
        noise = np.random.default_rng(5).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
        self._send(200, header + noise.replace(b"\xff", b"\xff\x00") + b"\xff\xd9")

    def _unavailable(self, host: _Host, hit: int, name: str) -> None:  # one image for all
        self._send(200, _jpeg(404))

    def _redirect(self, host: _Host, hit: int, name: str) -> None:
        self._send(302, b"", {"Location": host.redirects[name], "Content-Length": "0"})

    def _missing(self, host: _Host, hit: int, name: str) -> None:
        self._send(404, b"no such photo")

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class _Server:
    base: str
    host: _Host


@contextlib.contextmanager
def _serving(handler: type[_Handler]) -> Iterator[_Server]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    host = _Host()
    httpd.host = host  # type: ignore[attr-defined]
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    lifetime = threading.Timer(SERVER_LIFETIME, lambda: (host.stopping.set(), httpd.shutdown()))
    lifetime.daemon = True
    lifetime.start()
    try:
        yield _Server(f"http://127.0.0.1:{httpd.server_port}", host)
    finally:
        lifetime.cancel()
        host.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        serving.join(timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with _serving(_Handler) as serving, pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1")  # a developer's proxy must not see these
        yield serving


def _options(tmp: Path, **overrides: object) -> dict[str, object]:
    options: dict[str, object] = dict(
        lists=str(tmp / "lists"),
        out=str(tmp / "out"),
        workers=2,
        connect_timeout=1.0,
        read_timeout=READ_TIMEOUT,
        retries=1,
        backoff=0.01,
        min_bytes=1_000,
        deadline=DEADLINE,
        min_rate=0.0,
        progress=False,
        allow_private_hosts=True,  # the server is on 127.0.0.1
    )
    options.update(overrides)
    return options


def _fetch(tmp: Path, urls: list[str], **overrides: object):
    _write_list(tmp, urls)
    return fetch_dataset(FetchConfig(**_options(tmp, **overrides)))  # type: ignore[arg-type]


def _write_list(tmp: Path, urls: list[str], cls: str = "cats") -> None:
    (tmp / "lists").mkdir(exist_ok=True)
    (tmp / "lists" / f"{cls}.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")


def _records(out: Path) -> dict[str, dict]:
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    return {r["url"]: r for r in map(json.loads, lines)}  # every line must parse


def _temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX) or ".tmp" in p.name]


# --- 1. the deadline holds whatever the server does ------------------------------


@pytest.mark.parametrize("route", ["drip-body", "drip-headers"])
def test_drip_is_cut_at_the_deadline(server: _Server, tmp_path: Path, route: str) -> None:
    start = time.monotonic()
    summary = _fetch(tmp_path, [f"{server.base}/{route}/a.jpg"])
    elapsed = time.monotonic() - start
    assert summary.failures_by_reason == {"too_slow": 1}
    assert elapsed < DEADLINE + READ_TIMEOUT + SLACK
    assert server.host.hits[f"/{route}/a.jpg"] == 1  # too_slow is not retried


def test_minimum_rate_ends_a_drip_long_before_the_deadline(server: _Server, tmp_path: Path) -> None:
    start = time.monotonic()
    summary = _fetch(tmp_path, [f"{server.base}/drip-body/b.jpg"], deadline=60.0, min_rate=100.0)
    assert summary.failures_by_reason == {"too_slow": 1}
    assert time.monotonic() - start < READ_TIMEOUT + DRIP_SECONDS + SLACK


def test_jpeg_whose_body_is_noise_is_corrupt(server: _Server, tmp_path: Path) -> None:
    summary = _fetch(tmp_path, [f"{server.base}/noise-body/a.jpg"])
    assert summary.failures_by_reason == {"corrupt": 1}
    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == [MANIFEST_NAME]


def test_gzip_bomb_and_broken_gzip(server: _Server, tmp_path: Path) -> None:
    summary = _fetch(tmp_path, [f"{server.base}/gzip/bomb", f"{server.base}/gzip/broken"])
    assert summary.failures_by_reason == {"bad_response": 1, "too_large": 1}
    assert server.host.hits["/gzip/broken"] == 1  # not a dropped connection: no retry


# --- 5. numbers in headers, file modes, the summary ------------------------------


def test_only_ascii_digits_are_numbers() -> None:
    assert [ascii_int(v) for v in ["12", " 7 ", "0"]] == [12, 7, 0]
    assert [ascii_int(v) for v in ["\u00b2", "\u0661", "-1", "1.5", "", "1e3"]] == [None] * 6


def test_superscript_digit_headers_do_not_fail_good_responses(
    server: _Server, tmp_path: Path
) -> None:
    b = server.base
    summary = _fetch(tmp_path, [f"{b}/superscript-length/a.jpg", f"{b}/superscript-retry/a.jpg"])
    assert (summary.downloaded, summary.failed) == (2, 0)
    assert server.host.hits["/superscript-retry/a.jpg"] == 2  # the 503 was retried


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_created_files_get_the_umask_mode(server: _Server, tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        summary = _fetch(tmp_path, [f"{server.base}/img/mode{umask}.jpg"])
    finally:
        os.umask(old)
    assert summary.downloaded == 1
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) == 2  # the image and the manifest
    assert {p.stat().st_mode & 0o777 for p in files} == {0o666 & ~umask}


def test_summary_names_the_manifest_listing_every_failure(server: _Server, tmp_path: Path) -> None:
    summary = _fetch(tmp_path, [f"{server.base}/img/ok.jpg", f"{server.base}/gone/x.jpg"])
    manifest = tmp_path / "out" / MANIFEST_NAME
    assert summary.manifest == manifest.resolve()
    assert str(summary.manifest) in format_summary(summary)
    failed = [r for r in _records(tmp_path / "out").values() if r["status"] == "failed"]
    assert [(r["url"].rsplit("/", 2)[-2], r["reason"]) for r in failed] == [("gone", "http_404")]


# --- 2. nothing is written through a symlink --------------------------------------


@pytest.mark.parametrize("target_exists", [True, False])
def test_planted_manifest_symlink_is_refused(
    server: _Server, tmp_path: Path, target_exists: bool
) -> None:
    outside = tmp_path / "outside.jsonl"
    if target_exists:
        outside.write_text("precious\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / MANIFEST_NAME).symlink_to(outside)
    with pytest.raises(DataError, match=r"manifest\.jsonl: is a symlink;") as raised:
        _fetch(tmp_path, [f"{server.base}/img/link.jpg"])
    assert "\n" not in str(raised.value)
    assert (outside.read_text() if target_exists else outside.exists()) == (
        "precious\n" if target_exists else False
    )
    assert server.host.hits["/img/link.jpg"] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST_NAME]


def test_planted_image_symlink_is_refused(server: _Server, tmp_path: Path) -> None:
    url = f"{server.base}/img/planted.jpg"
    _fetch(tmp_path, [url])
    saved = next((tmp_path / "out" / "cats").glob("planted_*"))
    saved.unlink()  # deleted since: the next run fetches it again, into the same name
    outside = tmp_path / "outside.jpg"
    saved.symlink_to(outside)
    with pytest.raises(DataError, match=r"\.jpg: is a symlink;"):
        _fetch(tmp_path, [url])
    assert not outside.exists()


# --- 3. temp files: recognisable, swept, at most one in flight --------------------


def test_leftover_temp_files_are_removed_and_others_kept(server: _Server, tmp_path: Path) -> None:
    cats = tmp_path / "out" / "cats"
    cats.mkdir(parents=True)
    leftovers = [
        cats / f".cat1_0123456789ab.jpg{TEMP_SUFFIX}",
        cats / ".cat2_0123456789ab.k3j_9x0a.tmp.jpg",  # what older versions left
        tmp_path / "out" / ".manifest.a1b2c3d4.tmp.jsonl",
    ]
    kept = [cats / ".notes.tmp", cats / "mine.tmp.jpg"]
    for path in leftovers + kept:
        path.write_bytes(b"partial")
    summary = _fetch(tmp_path, [f"{server.base}/img/sweep.jpg"])
    assert summary.downloaded == 1
    assert [p for p in leftovers if p.exists()] == []
    assert all(p.exists() for p in kept)


_KILL_SCRIPT = """
import os, sys, time
from alexedge.data.fetch.paths import TEMP_SUFFIX
from alexedge.data.fetch import FetchConfig, fetch_dataset

real_replace = os.replace

def pause_in_flight(src, dst, *args, **kwargs):
    if str(src).endswith(TEMP_SUFFIX) and "manifest" not in str(src):
        print("IN_FLIGHT", flush=True)
        time.sleep(60)
    return real_replace(src, dst, *args, **kwargs)

os.replace = pause_in_flight
fetch_dataset(FetchConfig(**{options}))
"""

_STOP_SCRIPT = """
import sys
from alexedge.data.fetch import FetchConfig, fetch_dataset

try:
    fetch_dataset(FetchConfig(**{options}))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def _start(script: str, options: dict[str, object]) -> subprocess.Popen[str]:
    env = dict(os.environ, NO_PROXY="127.0.0.1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-c", script.format(options=repr(options))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(condition, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting for the fetch subprocess"
        time.sleep(0.05)


def test_kill_while_a_file_is_in_flight_then_resume(server: _Server, tmp_path: Path) -> None:
    urls = [f"{server.base}/img/k{i}.jpg" for i in range(3)]
    _write_list(tmp_path, urls)
    options = _options(tmp_path, workers=1)
    for _ in range(2):  # two kills: temp files must not pile up
        proc = _start(_KILL_SCRIPT, options)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "IN_FLIGHT"
            in_flight = _temp_files(tmp_path / "out")
            assert len(in_flight) == 1 and in_flight[0].name.endswith(TEMP_SUFFIX)
        finally:
            proc.kill()
            proc.communicate(timeout=10)
    summary = fetch_dataset(FetchConfig(**options))  # type: ignore[arg-type]
    assert summary.downloaded + summary.skipped_done == 3
    assert _temp_files(tmp_path / "out") == []
    assert len(list((tmp_path / "out" / "cats").iterdir())) == 3


# --- 5. Ctrl-C and SIGTERM ---------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_at_once_with_a_consistent_manifest(
    server: _Server, tmp_path: Path, signum: int
) -> None:
    name = signal.Signals(signum).name
    urls = [f"{server.base}/img/{name}{i}.jpg" for i in range(2)]
    urls += [f"{server.base}/hang/{name}{i}.jpg" for i in range(6)]
    _write_list(tmp_path, urls)
    options = _options(tmp_path, workers=4, read_timeout=30.0, deadline=60.0)
    proc = _start(_STOP_SCRIPT, options)
    try:
        out = tmp_path / "out"
        _wait_for(lambda: server.host.count(f"/hang/{name}") == 4, 30)
        _wait_for(lambda: len(_records(out)) == 2 if (out / MANIFEST_NAME).exists() else False, 30)
        start = time.monotonic()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
    assert (proc.returncode, stdout.strip()) == (130, "interrupted"), stderr
    assert elapsed < 3.0
    assert server.host.count(f"/hang/{name}") == 4  # nothing new was requested
    records = _records(out)
    assert sorted(records) == sorted(urls[:2])
    assert all(r["status"] == "done" and (out / r["path"]).is_file() for r in records.values())
    assert _temp_files(out) == []


# --- 4. bounded memory -------------------------------------------------------------


# Peak RSS from /proc (VmHWM, in kB), not getrusage: ru_maxrss survives exec, so a child
# of a pytest process that holds TensorFlow (700 MB-1.2 GB) would report the parent's
# size at fork time instead of its own.
_MEMORY_SCRIPT = """
import re
from alexedge.data.fetch import FetchConfig, fetch_dataset

summary = fetch_dataset(FetchConfig(**{options}))
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(summary.downloaded, summary.failed, peak)
"""


def test_large_dimension_pngs_are_checked_in_bounded_memory(
    server: _Server, tmp_path: Path
) -> None:
    # Eight distinct 9000x9000 RGB PNGs decode to 2.6 GB together; a ninth of 9500x9500
    # is over Pillow's warning threshold (89.5 MP) but under ours (100 MP).
    comments = [str(i).encode() for i in range(BIG_COUNT)]
    server.host.big_pngs = _flat_png(BIG_SIDE, 3, comments) + _flat_png(9500, 1, [b"grey"])
    urls = [f"{server.base}/big-png/{i}" for i in range(BIG_COUNT + 1)]
    _write_list(tmp_path, urls)
    options = _options(tmp_path, workers=8, read_timeout=10.0, deadline=60.0)
    proc = _start(_MEMORY_SCRIPT, options)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    downloaded, failed, maxrss_kib = map(int, stdout.split())
    assert (downloaded, failed) == (BIG_COUNT + 1, 0)
    assert maxrss_kib * 1024 < 1_000_000_000
    assert "Warning" not in stderr


# --- 4. checking content without decoding it all -----------------------------------


def test_decode_budget_makes_large_decodes_wait() -> None:
    budget = DecodeBudget(100)
    order: list[str] = []
    with budget.hold(60):
        second = threading.Thread(target=lambda: budget.hold(60).__enter__() or order.append("b"))
        second.start()
        time.sleep(0.2)
        order.append("a")
    second.join(timeout=5)
    assert order == ["a", "b"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_not_images(fmt: str) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    data = buf.getvalue()
    budget = DecodeBudget(10_000_000)
    assert check_content(data, 0, budget) == {"JPEG": ".jpg", "PNG": ".png"}[fmt]
    for cut in (len(data) // 2, len(data) - 20):
        with pytest.raises(Failure) as failure:
            check_content(data[:cut], 0, budget)
        assert failure.value.reason == "not_image"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # fetch_dataset's job
def test_png_over_the_pixel_cap_is_refused_from_its_header() -> None:
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 12000, 9000, 8, 2, 0, 0, 0)
    )
    png += _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b"")
    with pytest.raises(Failure) as failure:
        check_content(png, 0, DecodeBudget(1))
    assert failure.value.reason == "too_many_pixels"


def test_png_whose_pixels_disagree_with_its_header_is_not_an_image() -> None:
    (good,) = _flat_png(64, 3, [b"x"])
    assert check_content(good, 0, DecodeBudget(1)) == ".png"
    short = good.replace(struct.pack(">II", 64, 64), struct.pack(">II", 64, 65), 1)
    fixed = short[:8] + _png_chunk(b"IHDR", short[16:29]) + short[33:]
    with pytest.raises(Failure) as failure, contextlib.suppress(SyntaxError):
        check_content(fixed, 0, DecodeBudget(1))
    assert failure.value.reason == "not_image"


# --- 6. where a download may connect (issue 35) -----------------------------------

PUBLIC_IP = "93.184.215.14"  # globally routed; the fake network delivers it to the server


@dataclass
class _Network:
    names: dict[str, str]  # host name -> the addresses the fake resolver answers, "a,b"
    connects: list[str]  # every address a socket tried to connect to, in order


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> _Network:
    """A resolver that never sends a query, and sockets that never leave 127.0.0.1."""
    net = _Network({}, [])
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, family=0, kind=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
        flags |= socket.AI_NUMERICHOST
        answers = net.names.get(host, host).split(",")
        return [i for a in answers for i in real_getaddrinfo(a, port, family, kind, proto, flags)]

    def connect(sock, address):  # type: ignore[no-untyped-def]
        net.connects.append(address[0])
        if address[0] == PUBLIC_IP:
            address = ("127.0.0.1", address[1])
        elif address[0] != "127.0.0.1":
            raise ConnectionRefusedError(f"the test network does not reach {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return net


def _port(server: _Server) -> int:
    return int(server.base.rsplit(":", 1)[1])


def _only_the_manifest(out: Path) -> bool:
    return [p.name for p in out.rglob("*") if p.is_file()] == [MANIFEST_NAME]


@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("http://127.0.0.1:{port}/img/ssrf-p1.jpg", None),
        ("http://2130706433:{port}/img/ssrf-p2.jpg", None),  # decimal 127.0.0.1
        ("http://0x7f.1:{port}/img/ssrf-p3.jpg", None),  # hex
        ("http://0:{port}/img/ssrf-p4.jpg", None),  # 0.0.0.0 reaches this machine
        ("http://[::1]:{port}/img/ssrf-p5.jpg", None),
        ("http://169.254.169.254/latest/meta-data/", None),
        ("http://intranet.test:{port}/img/ssrf-p6.jpg", "10.0.0.1"),  # a name, resolved
        ("http://mapped.test:{port}/img/ssrf-p7.jpg", "::ffff:10.0.0.1"),
        ("http://nat64.test:{port}/img/ssrf-p8.jpg", "64:ff9b::a9fe:a9fe"),  # 169.254.169.254
        ("http://multicast.test:{port}/img/ssrf-p9.jpg", "224.0.0.251"),
        # one private answer among public ones refuses the name (DNS rebinding)
        ("http://mixed.test:{port}/img/ssrf-p10.jpg", f"{PUBLIC_IP},127.0.0.1"),
    ],
)
def test_private_addresses_are_refused_before_connecting(
    server: _Server, network: _Network, tmp_path: Path, url: str, resolves_to: str | None
) -> None:
    url = url.format(port=_port(server))
    if resolves_to is not None:
        network.names[url.split("/")[2].rsplit(":", 1)[0]] = resolves_to
    summary = _fetch(tmp_path, [url], allow_private_hosts=False)
    assert summary.failures_by_reason == {"blocked_address": 1}
    assert network.connects == []  # refused on the resolved address, and not retried
    assert server.host.count("/img/ssrf-p") == 0
    assert _only_the_manifest(tmp_path / "out")


@pytest.mark.parametrize("allow_private_hosts", [False, True])
@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.1/admin",
        "http://[::1]:9/",
        "http://2130706433:{port}/img/ssrf-r1.jpg",
        "http://inside.test:{port}/img/ssrf-r2.jpg",  # a name resolving to 127.0.0.1
        "ftp://127.0.0.1:{port}/img/ssrf-r3.jpg",
    ],
)
def test_redirect_from_a_public_host_into_a_private_one_is_refused(
    server: _Server,
    network: _Network,
    tmp_path: Path,
    target: str,
    allow_private_hosts: bool,
) -> None:
    port = _port(server)
    network.names.update({"photos.test": PUBLIC_IP, "inside.test": "127.0.0.1"})
    name = f"{len(server.host.redirects)}"
    server.host.redirects[name] = target.format(port=port)
    url = f"http://photos.test:{port}/redirect/{name}"
    summary = _fetch(tmp_path, [url], allow_private_hosts=allow_private_hosts)
    reason = "bad_url" if target.startswith("ftp:") else "blocked_address"
    assert summary.failures_by_reason == {reason: 1}
    assert network.connects == [PUBLIC_IP]  # the first hop only, once: no retry
    assert server.host.hits[f"/redirect/{name}"] == 1
    assert server.host.count("/img/ssrf-r") == 0
    assert _only_the_manifest(tmp_path / "out")


def test_redirects_between_public_hosts_and_from_private_hosts_are_followed(
    server: _Server, network: _Network, tmp_path: Path
) -> None:
    port = _port(server)
    network.names.update({"photos.test": PUBLIC_IP, "cdn.test": PUBLIC_IP})
    server.host.redirects["to-cdn"] = f"http://cdn.test:{port}/img/cdn.jpg"
    server.host.redirects["to-public"] = f"http://cdn.test:{port}/img/out.jpg"
    public = f"http://photos.test:{port}/redirect/to-cdn"
    summary = _fetch(tmp_path, [public], allow_private_hosts=False)
    assert (summary.downloaded, summary.failed) == (1, 0)
    assert network.connects == [PUBLIC_IP, PUBLIC_IP]

    private = f"{server.base}/redirect/to-public"  # a local mirror pointing outwards
    (tmp_path / "b").mkdir()
    summary = _fetch(tmp_path / "b", [private], allow_private_hosts=True)
    assert (summary.downloaded, summary.failed) == (1, 0)


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"


def test_a_kept_alive_private_connection_is_not_reused_after_a_public_hop(
    network: _Network, tmp_path: Path
) -> None:
    with _serving(_KeepAliveHandler) as keep_alive:
        port = _port(keep_alive)
        network.names["photos.test"] = PUBLIC_IP
        keep_alive.host.redirects["back"] = f"{keep_alive.base}/img/k2.jpg"
        urls = [f"{keep_alive.base}/img/k1.jpg", f"http://photos.test:{port}/redirect/back"]
        summary = _fetch(tmp_path, urls, workers=1, allow_private_hosts=True)
        assert summary.failures_by_reason == {"blocked_address": 1}
        assert summary.downloaded == 1
        assert keep_alive.host.hits["/img/k2.jpg"] == 0
    # One connection to 127.0.0.1, kept alive: the refusal was the check before reuse.
    assert network.connects == ["127.0.0.1", PUBLIC_IP]


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("::ffff:93.184.215.14", True),
        ("127.0.0.2", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fec0::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:a00:1::1", False),  # 6to4 around 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
        ("::10.0.0.1", False),  # IPv4-compatible, deprecated
    ],
)
def test_public_addresses(ip: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(ip)) is public


# --- 7. duplicates are kept once, placeholders dropped (issue 35) ------------------


def _by_status(out: Path) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in _records(out).values():
        grouped.setdefault(record["status"], []).append(record)
    return grouped


def test_mirrors_of_one_photo_are_kept_once_as_duplicates(
    server: _Server, network: _Network, tmp_path: Path
) -> None:
    port = _port(server)
    network.names.update({f"mirror-{m}.test": "127.0.0.1" for m in "abc"})
    mirrors = [f"http://mirror-{m}.test:{port}/img/dup.jpg" for m in "abc"]
    urls = [*mirrors, mirrors[0] + "#large", f"{server.base}/img/dup-other.jpg"]
    summary = _fetch(tmp_path, urls)
    assert (summary.downloaded, summary.duplicates, summary.failed) == (2, 3, 0)
    assert "3 URLs returned an image already kept" in format_summary(summary)
    out = tmp_path / "out"
    assert len(list((out / "cats").iterdir())) == 2
    records = _by_status(out)
    (kept,) = [r for r in records["done"] if r["url"] in urls[:4]]
    assert sorted(r["url"] for r in records["duplicate"]) == sorted(set(urls[:4]) - {kept["url"]})
    assert {(r["duplicate_of"], r["sha256"], r["rule"]) for r in records["duplicate"]} == {
        (kept["url"], kept["sha256"], "same_class")
    }

    again = _fetch(tmp_path, urls)  # resumed: nothing fetched, the same verdicts
    assert (again.downloaded, again.skipped_done, again.duplicates) == (0, 2, 3)
    (out / kept["path"]).unlink()  # the kept copy is gone: fetch the group again
    hits = server.host.hits["/img/dup.jpg"]
    third = _fetch(tmp_path, urls)
    assert (third.downloaded + third.skipped_done, third.duplicates) == (2, 3)
    assert server.host.hits["/img/dup.jpg"] == hits + 4


@pytest.mark.parametrize(
    ("lists", "rule"),
    [
        (
            {"cats": ["a.test/unavailable/1", "a.test/unavailable/2", "a.test/unavailable/3"]},
            "one_host",
        ),
        (
            {
                "cats": ["a.test/unavailable/4", "b.test/unavailable/5"],
                "dogs": ["c.test/unavailable/6"],
            },
            "several_classes",
        ),
    ],
)
def test_placeholders_are_dropped_with_the_rule_that_fired(
    server: _Server, network: _Network, tmp_path: Path, lists: dict[str, list[str]], rule: str
) -> None:
    port = _port(server)
    network.names.update({f"{h}.test": "127.0.0.1" for h in "abc"})
    for cls, urls in lists.items():
        hosted = [f"http://{u.replace('/', f':{port}/', 1)}" for u in urls]
        _write_list(tmp_path, hosted, cls)
    summary = fetch_dataset(FetchConfig(**_options(tmp_path)))  # type: ignore[arg-type]
    assert summary.failures_by_reason == {"placeholder": 3}
    assert {r["rule"] for r in _records(tmp_path / "out").values()} == {rule}
    assert _only_the_manifest(tmp_path / "out")


def test_old_manifest_placeholders_are_judged_again(server: _Server, tmp_path: Path) -> None:
    """Mirrors an earlier version deleted as a placeholder come back as duplicates."""
    urls = [f"{server.base}/img/old.jpg#{i}" for i in range(3)]
    sha = hashlib.sha256(_jpeg(sum(b"old.jpg"))).hexdigest()
    (tmp_path / "out").mkdir()
    old = [
        {"class": "cats", "url": u, "status": "failed", "reason": "placeholder", "sha256": sha}
        for u in urls
    ]
    (tmp_path / "out" / MANIFEST_NAME).write_text("".join(json.dumps(r) + "\n" for r in old))
    kept = _fetch(tmp_path, urls)
    assert kept.failures_by_reason == {"placeholder": 3}  # read as written, not retried
    summary = _fetch(tmp_path, urls, retry_failed=True)
    assert (summary.downloaded, summary.duplicates, summary.failed) == (1, 2, 0)
