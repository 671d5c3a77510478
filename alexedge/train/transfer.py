"""A backbone's layers in a new network, and the head trained alone: ``--init-from``'s weights.

Every layer with weights is copied from the backbone by name, except the classifier
head (``fc8``, the last Dense layer), which starts fresh for the new classes. The same
family with the same architecture options always fits; a layer whose shape differs
(another width, or an input size that changes a dense layer's inputs) cannot be
bridged, and ``check_backbone_fits`` refuses it before anything is written.

Freezing sets ``trainable=False`` on every layer but the head: the optimizer then
updates only the head, and a frozen batch-norm layer normalizes with its moving
statistics (Keras runs it in inference mode), so the copied statistics stay those of
the backbone's images while the head learns on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tf_keras as keras

import alexedge.train.models  # noqa: F401  (registers the custom layers)
from alexedge.errors import ModelError
from alexedge.train.backbone import Backbone, architecture_differences, read_backbone
from alexedge.train.config import TrainConfig

__all__ = [
    "CopyPlan",
    "Phase",
    "check_backbone_fits",
    "copy_backbone",
    "head_layer",
    "load_backbone_model",
    "plan_copy",
    "set_frozen",
    "start_from_backbone",
    "training_phases",
]


@dataclass(frozen=True)
class CopyPlan:
    """Layers (with weights) copied from the backbone, and those that start fresh."""

    copied: tuple[str, ...]
    fresh: tuple[str, ...]
    mismatched: tuple[str, ...] = ()  # "fc6: (512, 16) here, (128, 16) in the backbone"

    def line(self, backbone: Backbone) -> str:
        """One line for the user: what came from where."""
        copied = ", ".join(self.copied) or "none"
        return (
            f"init from {backbone.run} ({backbone.config.model}, {backbone.classes} classes): "
            f"copied {len(self.copied)} layers ({copied}); started fresh: {', '.join(self.fresh)}"
        )


def head_layer(model: keras.Model) -> keras.layers.Layer:
    """The classifier head: the last Dense layer (``fc8`` in every registered family)."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ModelError(f"model {model.name} has no Dense classifier head to start afresh")
    return dense[-1]


def plan_copy(model: keras.Model, source: keras.Model) -> CopyPlan:
    """Which of ``model``'s layers take ``source``'s weights (same name, same shapes)."""
    head = head_layer(model).name
    by_name = {layer.name: layer for layer in source.layers}
    copied, fresh, mismatched = [], [head], []
    for layer in model.layers:
        if not layer.weights or layer.name == head:
            continue
        theirs = by_name.get(layer.name)
        if theirs is None:
            mismatched.append(f"{layer.name}: not in the backbone")
            continue
        mine_shapes = [tuple(w.shape) for w in layer.weights]
        their_shapes = [tuple(w.shape) for w in theirs.weights]
        if mine_shapes == their_shapes:
            copied.append(layer.name)
        else:
            shown = ", ".join(str(s) for s in mine_shapes)
            other = ", ".join(str(s) for s in their_shapes)
            mismatched.append(f"{layer.name}: {shown} here, {other} in the backbone")
    return CopyPlan(tuple(copied), tuple(fresh), tuple(mismatched))


def check_backbone_fits(
    config: TrainConfig, model: keras.Model, source: keras.Model, backbone: Backbone
) -> CopyPlan:
    """The copy plan of ``model`` (built from ``config``) from ``source``, or ``ModelError``.

    Refused: another family, or any layer but the head whose shapes differ; the message
    names the options that differ from the backbone's.
    """
    where = f"--init-from {backbone.run}"
    if config.model != backbone.config.model:
        raise ModelError(
            f"{where} is a {backbone.config.model} run; its weights cannot start a "
            f"{config.model} (drop --model to fine-tune a {backbone.config.model})"
        )
    plan = plan_copy(model, source)
    if plan.mismatched:
        differences = architecture_differences(config, backbone.config)
        fix = (
            f"; options that differ from the backbone's: {', '.join(differences)} "
            "(drop them to take the backbone's)"
            if differences
            else ""
        )
        raise ModelError(f"{where}: layers do not fit ({'; '.join(plan.mismatched)}){fix}")
    return plan


def copy_backbone(model: keras.Model, source: keras.Model, plan: CopyPlan) -> None:
    """Set ``plan.copied`` layers of ``model`` to ``source``'s weights."""
    # Layer by layer: a layer's own weights keep their order whether it is frozen or
    # not, while a model's list puts every trainable weight first.
    for name in plan.copied:
        model.get_layer(name).set_weights(source.get_layer(name).get_weights())


def set_frozen(model: keras.Model, frozen: bool) -> bool:
    """Freeze (or unfreeze) every layer but the head; True when anything changed.

    A change takes effect at the next ``compile``: Keras traces which variables train.
    """
    head = head_layer(model)
    body = [layer for layer in model.layers if layer is not head and layer.weights]
    changed = any(layer.trainable == frozen for layer in body)
    for layer in body:
        layer.trainable = not frozen
    return changed


@dataclass(frozen=True)
class Phase:
    """Epochs ``start`` to ``stop`` (0-based, stop excluded), the body frozen or not."""

    start: int
    stop: int
    frozen: bool


def training_phases(config: TrainConfig, epochs_done: int) -> list[Phase]:
    """The epochs left to train: the frozen ones (``freeze_epochs``), then the rest."""
    bounds = (
        Phase(0, config.freeze_epochs, True),
        Phase(config.freeze_epochs, config.epochs, False),
    )
    left = [Phase(max(p.start, epochs_done), p.stop, p.frozen) for p in bounds]
    return [p for p in left if p.start < p.stop]


def load_backbone_model(backbone: Backbone) -> keras.Model:
    path = backbone.model_file
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # zip, h5py and config errors all mean the same to the user
        raise ModelError(f"--init-from: cannot load {path} ({type(e).__name__}: {e})") from e


def start_from_backbone(model: keras.Model, config: TrainConfig) -> CopyPlan:
    """Copy ``config.init_from``'s layers into ``model`` (built from ``config``)."""
    backbone = read_backbone(Path(config.init_from))
    source = load_backbone_model(backbone)
    plan = check_backbone_fits(config, model, source, backbone)
    copy_backbone(model, source, plan)
    return plan
