"""Name -> builder registry shared by the CLI, training and reports.

A family lives in one file: its builder, whose keyword-only parameters and their
defaults *are* the family's options (``ModelSpec.defaults``), and its registration
(sizes, description, a tiny test variant, the check of option values). Adding a family
is that file plus one import in ``alexedge.train.models``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tf_keras as keras

from alexedge.errors import ModelError

__all__ = [
    "ModelSpec",
    "build_model",
    "get_spec",
    "list_models",
    "logits_output",
    "register_model",
    "resolve_options",
]

Builder = Callable[..., keras.Model]
# Problems with option values, one message each (empty: the values are usable).
OptionCheck = Callable[[Mapping[str, Any]], list[str]]


def _no_check(options: Mapping[str, Any]) -> list[str]:
    return []


@dataclass(frozen=True)
class ModelSpec:
    """A registered family: its builder and the sizes the CLI and reports default to.

    ``default_num_classes`` is what ``describe_models`` builds: 1000 for the ImageNet
    network, 20 for the models meant for the 20-class subsets. ``tiny_options`` shrink the
    family so tests build its real code path in milliseconds (like timm's test-sized
    variants), at ``tiny_input_size``; ``test_variants`` are the other ``(input size,
    options)`` the registry tests build on top of ``tiny_options``, one for each code path
    an option or a size switches on, so adding a family touches its own file only.
    """

    name: str
    builder: Builder
    default_input_size: int
    min_input_size: int
    description: str
    default_num_classes: int = 20
    tiny_options: Mapping[str, object] = field(default_factory=dict, hash=False)
    check: OptionCheck = _no_check
    test_variants: tuple[tuple[int, Mapping[str, object]], ...] = field(default=(), hash=False)

    @property
    def tiny_input_size(self) -> int:
        """32x32 where the architecture allows it, else the smallest valid input."""
        return max(32, self.min_input_size)

    def options(self) -> list[str]:
        """Names of the keyword options the builder accepts besides ``num_classes``."""
        return list(self.defaults())

    def defaults(self) -> dict[str, Any]:
        """Every option with the value the builder uses when it is not given."""
        params = inspect.signature(self.builder).parameters.values()
        return {
            p.name: p.default
            for p in params
            if p.kind is p.KEYWORD_ONLY and p.name != "num_classes"
        }


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    default_input_size: int,
    min_input_size: int,
    description: str,
    default_num_classes: int = 20,
    tiny_options: Mapping[str, object] | None = None,
    check: OptionCheck = _no_check,
    test_variants: tuple[tuple[int, Mapping[str, object]], ...] = (),
) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder(inputs, x, *, num_classes, **options) -> Model``.

    ``x`` is ``inputs`` after the normalization layer; builders must end in the shared
    ``classifier_head`` (logits, then a float32 softmax). ``check`` returns the problems
    with a set of option values; the builder raises them too, and ``resolve_options``
    reports them before anything is trained or written.
    """

    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            default_input_size=default_input_size,
            min_input_size=min_input_size,
            description=description,
            default_num_classes=default_num_classes,
            tiny_options=dict(tiny_options or {}),
            check=check,
            test_variants=tuple((size, dict(options)) for size, options in test_variants),
        )
        return builder

    return decorate


def list_models() -> list[ModelSpec]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None


def resolve_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` completed with the family's defaults, every key and value checked.

    Raises:
        ModelError: an unknown model, an option the family does not have, or a value
            its ``check`` refuses; the message lists the family's options.
    """
    spec = get_spec(name)
    defaults = spec.defaults()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ModelError(
            f"{name} has no option {', '.join(unknown)}; its options: "
            f"{', '.join(defaults) or 'none'}"
        )
    resolved = {**defaults, **options}
    problems = spec.check(resolved)
    if problems:
        raise ModelError(f"{name}: " + "; ".join(problems))
    return resolved


def logits_output(model: keras.Model) -> Any:
    """The logits tensor of a registered model: the input of its final softmax.

    Every family ends in ``classifier_head``, so the logits are found by the head's
    structure, whatever the layers are called.
    """
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Softmax):
        raise ModelError(
            f"model {model.name} does not end in a softmax layer (found "
            f"{type(head).__name__}); build it with a registered family"
        )
    return head.input


def build_model(
    name: str,
    num_classes: int,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    **options: object,
) -> keras.Model:
    """Build a registered model that takes raw RGB 0-255 float input and outputs softmax.

    ``mean``/``std`` (per channel, in 0-255 units) become the model's first layer,
    so exported models need no normalization outside. Defaults are ImageNet's.
    """
    spec = get_spec(name)
    size = input_size or spec.default_input_size
    if size < spec.min_input_size:
        raise ModelError(
            f"{name} needs input of at least {spec.min_input_size}x{spec.min_input_size}, "
            f"got {size}x{size}"
        )
    if num_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {num_classes}")
    resolve_options(name, options)
    inputs = keras.Input((size, size, 3), name="image")
    x = normalization_layer(mean, std)(inputs)
    return spec.builder(inputs, x, num_classes=num_classes, **options)


IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def normalization_layer(
    mean: Sequence[float] | None, std: Sequence[float] | None
) -> keras.layers.Layer:
    mean_arr = np.asarray(mean if mean is not None else IMAGENET_MEAN, dtype=np.float32)
    std_arr = np.asarray(std if std is not None else IMAGENET_STD, dtype=np.float32)
    if mean_arr.shape != (3,) or std_arr.shape != (3,) or np.any(std_arr <= 0):
        raise ModelError(f"mean/std must be 3 positive per-channel values, got {mean}, {std}")
    return keras.layers.Normalization(
        mean=mean_arr.tolist(), variance=(std_arr**2).tolist(), name="normalize"
    )
