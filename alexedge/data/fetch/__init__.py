"""The downloader behind ``alexedge data fetch``: per-class URL lists to checked images.

Its parts, in the order a URL meets them: ``lists`` (reading ``LISTS/<class>.txt``),
``pool`` (worker threads, Ctrl-C), ``http`` (one URL to bytes, redirects hop by hop)
over ``connection``, which connects only where ``address`` allows and is timed by
``deadline``; ``verify`` (are the bytes a usable image), ``placeholders`` (a host's
"photo unavailable" image or a photo listed twice), ``store`` with ``paths`` and
``manifest`` (every write under OUT); ``run`` ties them together.
"""

from __future__ import annotations

from alexedge.data.fetch.config import FetchConfig
from alexedge.data.fetch.manifest import MANIFEST_NAME
from alexedge.data.fetch.run import FetchSummary, fetch_dataset, format_summary

__all__ = ["MANIFEST_NAME", "FetchConfig", "FetchSummary", "fetch_dataset", "format_summary"]
