"""Models are plain builder functions registered by name (like timm's ``register_model``).

Importing this package registers every family, so ``build_model("alexnet-reduced",
num_classes=20)`` works after ``import alexedge.train.models``.
"""

from alexedge.train.models import alexnet as _alexnet  # noqa: F401  (registers models)
from alexedge.train.models.registry import ModelSpec, build_model, get_spec, list_models

__all__ = ["ModelSpec", "build_model", "get_spec", "list_models"]
