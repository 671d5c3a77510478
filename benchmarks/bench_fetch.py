"""Peak memory of ``data fetch`` checking eight 9000x9000 PNGs with 8 workers.

Each run is a fresh subprocess fetching from a server on 127.0.0.1 and reporting
its ``ru_maxrss``. Modes: ``stream`` (the default check: chunk CRCs and a counted
inflate, no pixels kept), ``decode`` (a full decode under the decode budget, as
WebP, GIF, BMP and TIFF get) and ``decode-no-trim`` (the same without handing freed
heap back to the OS). Prints peak RSS per mode and the ratios; asserts nothing.

    python benchmarks/bench_fetch.py
"""

from __future__ import annotations

import subprocess
import sys

from alexedge.hardware import hardware_line

_CHILD = r"""
import http.server, os, resource, struct, sys, tempfile, threading, zlib
from alexedge.data.fetch import verify
from alexedge.data.fetch import FetchConfig, fetch_dataset

mode = sys.argv[1]
if mode.startswith("decode"):  # PNGs take the path other formats take
    import io
    from PIL import Image
    budget = verify.DecodeBudget(FetchConfig.decode_budget)
    def decode(data):
        with Image.open(io.BytesIO(data)) as img:
            verify._decode_small(img, data, budget)
    verify.check_png = decode
if mode == "decode-no-trim":
    verify._return_freed_memory = lambda: None

def chunk(kind, body):
    crc = zlib.crc32(body, zlib.crc32(kind))
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

side = 9000
row = b"\x00" + bytes(side * 3)
deflate = zlib.compressobj(9)
idat = b"".join([deflate.compress(row * 250) for _ in range(side // 250)] + [deflate.flush()])
head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
pngs = [head + chunk(b"tEXt", b"Comment\x00%d" % i) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
        for i in range(8)]
del row

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = pngs[int(self.path.strip("/"))]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
tmp = tempfile.mkdtemp()
os.makedirs(f"{tmp}/lists")
with open(f"{tmp}/lists/big.txt", "w") as f:
    f.write("\n".join(f"http://127.0.0.1:{server.server_port}/{i}" for i in range(8)))
os.environ["NO_PROXY"] = "127.0.0.1"
summary = fetch_dataset(FetchConfig(lists=f"{tmp}/lists", out=f"{tmp}/out", progress=False))
server.shutdown()
print(summary.downloaded, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_mb(mode: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True
    )
    downloaded, maxrss_kib = map(int, result.stdout.split())
    if downloaded != 8:
        raise SystemExit(f"{mode}: only {downloaded} of 8 images kept\n{result.stderr}")
    return maxrss_kib / 1024


def main() -> None:
    print(f"hardware: {hardware_line()}", flush=True)
    peaks = {mode: _peak_mb(mode) for mode in ("stream", "decode", "decode-no-trim")}
    for mode, peak in peaks.items():
        print(f"{mode:<15} peak RSS {peak:8.0f} MB")
    print(f"decode / stream:         {peaks['decode'] / peaks['stream']:.1f}x")
    print(f"decode-no-trim / decode: {peaks['decode-no-trim'] / peaks['decode']:.1f}x")


if __name__ == "__main__":
    main()
