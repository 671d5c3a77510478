"""Telling a host's placeholder image from a photo that a list names more than once.

Both look the same from one download: identical bytes behind different URLs. What
differs is who returned them. A host answers every removed photo with one "photo
unavailable" image, whatever class the URL was listed under and whatever its path;
a real photo belongs to one class, and appears again only under a few URLs of that
class (mirrors on other hosts, or URLs that differ only after ``#``). So the URLs that
returned one image are judged together:

- ``several_classes``: ``threshold`` or more distinct URLs, in two or more classes;
- ``one_host``: ``threshold`` or more distinct paths on one host;

and either makes the image a placeholder. Otherwise copies within one class are
duplicates (kept once), and a copy in another class is kept there too. URLs are
compared without their fragment, which never reaches the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from alexedge.data.fetch.types import Key

__all__ = ["ONE_HOST", "SAME_CLASS", "SEVERAL_CLASSES", "placeholder_rule"]

SEVERAL_CLASSES = "several_classes"
ONE_HOST = "one_host"
SAME_CLASS = "same_class"  # the rule recorded with a duplicate


def placeholder_rule(keys: Iterable[Key], threshold: int) -> str | None:
    """The placeholder rule the URLs that returned one image meet, or None for a photo."""
    classes: set[str] = set()
    by_host: dict[str, set[str]] = {}
    for cls, url in keys:
        classes.add(cls)
        resource = url.split("#", 1)[0]
        by_host.setdefault(_host(resource), set()).add(resource)
    if len(classes) >= 2 and sum(map(len, by_host.values())) >= threshold:
        return SEVERAL_CLASSES
    if any(len(resources) >= threshold for resources in by_host.values()):
        return ONE_HOST
    return None


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # downloaded URLs parse; this only guards old manifests
        return ""
