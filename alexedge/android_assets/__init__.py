"""The folder a phone app ships: a model with embedded metadata, labels, usage, goldens.

``package_run(RUN, PackageConfig(...))`` is ``alexedge package``, and what
``alexedge pipeline`` calls at its end.
"""

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
    "PackageConfig",
    "default_out",
    "package_run",
    "select_variant",
]
