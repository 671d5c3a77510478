"""The folder a phone app ships: a model with embedded metadata, labels, usage, goldens.

``package_run(RUN, PackageConfig(...))`` is ``alexedge package``, and what
``alexedge pipeline`` calls at its end; ``package_embedder(RUN, EmbedderConfig(...))`` is
``alexedge package RUN --embedder``, the feature extractor for MediaPipe's ImageEmbedder.
"""

from alexedge.android_assets.embedder import EmbedderBundle, EmbedderConfig, package_embedder
from alexedge.android_assets.package import (
    FILES,
    TARGETS,
    Bundle,
    PackageConfig,
    default_out,
    package_run,
    select_variant,
)

__all__ = [
    "FILES",
    "TARGETS",
    "Bundle",
    "EmbedderBundle",
    "EmbedderConfig",
    "PackageConfig",
    "default_out",
    "package_embedder",
    "package_run",
    "select_variant",
]
