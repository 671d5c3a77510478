"""Models are plain builder functions registered by name (like timm's ``register_model``).

Importing this package registers every family, so ``build_model("alexnet-reduced",
num_classes=20)`` works after ``import alexedge.train.models``, and registers the custom
layers, so ``keras.models.load_model`` reads saved models without ``custom_objects``.
"""

from alexedge.train.models import alexnet as _alexnet  # noqa: F401  (registers models)
from alexedge.train.models import baselines as _baselines  # noqa: F401  (registers models)
from alexedge.train.models.layers import ChannelSlice, LocalResponseNorm
from alexedge.train.models.registry import ModelSpec, build_model, get_spec, list_models
from alexedge.train.models.summary import ModelRow, ModelStats, describe_models, model_stats

__all__ = [
    "ChannelSlice",
    "LocalResponseNorm",
    "ModelRow",
    "ModelSpec",
    "ModelStats",
    "build_model",
    "describe_models",
    "get_spec",
    "list_models",
    "model_stats",
]
