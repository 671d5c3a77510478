"""The variant planner and ``alexedge compress RUN``: which sources and variants a
``CompressConfig`` asks for, then each of them made, written, measured and verified.

The family is planned first (``plan_family``: pure, from the config): Keras *sources*
(the trained model, one pruned model per sparsity target, optionally a QAT model and an
int4-aware one of each, and a clustered model of each pruned one, or of the trained one
when nothing is pruned), and for each source the TFLite modes to export. How a source
is made and what it exports is its technique's row (``techniques.table.TECHNIQUES``).
Then ``compress_run`` hands each plan to the ``Family`` (``family``), which makes the
source and its variants; ``variants.json`` is rewritten after each source, so an
interrupted run keeps what it measured. ``alexedge pipeline`` calls the same
``compress_run``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alexedge.progress as progress
from alexedge.atomic import write_json
from alexedge.compress.config import CompressConfig
from alexedge.compress.diagnostics.measure import VariantMeasurement
from alexedge.compress.diagnostics.verify import raise_for_failures
from alexedge.compress.family import TRAINED, Family, SourcePlan, start_variants_folder
from alexedge.compress.inputs import load_run_inputs
from alexedge.compress.techniques.table import TECHNIQUES
from alexedge.data.decode import DecodedSplit
from alexedge.modes import QUANTIZATION_MODES
from alexedge.run import BEST_MODEL, VARIANTS_JSON

__all__ = ["CompressResult", "compress_run", "plan_family", "read_variants_doc"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class CompressResult:
    run_dir: Path
    doc: dict[str, Any]
    measured: tuple[VariantMeasurement, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.measured if m.status != "ok")

    def raise_for_failures(self) -> None:
        """``AgreementError`` naming every variant made now that failed verification."""
        raise_for_failures(m.to_dict() for m in self.measured)


def compress_run(
    run_dir: Path,
    config: CompressConfig,
    *,
    representative: Path | None = None,
    data_root: Path | None = None,
    strict: bool = True,
    say: Say = progress.say,
    decoded: tuple[DecodedSplit, DecodedSplit] | None = None,
) -> CompressResult:
    """Make, write, measure and verify every planned variant of the run in ``run_dir``.

    Args:
        representative: folder of images for int8 calibration (default: the run's
            training images), all through the evaluation preprocessing.
        data_root: where the run's dataset lives now, if it moved.
        strict: raise ``AgreementError`` (after writing ``variants.json``) when a
            variant fails verification; ``False`` leaves it to the caller.
        decoded: the run's (train, val) splits already decoded in memory (the pipeline
            hands over what training decoded), instead of decoding them again.
    """
    plans = plan_family(config)
    inputs = load_run_inputs(
        run_dir, config.calibration_images, config.seed, representative, data_root, decoded
    )
    if config.float_layers:
        from alexedge.compress.export.float_layers import check_model_float_layers

        # Before the first write: a mistyped layer name leaves the run folder as it was.
        check_model_float_layers(inputs.model, config.float_layers, str(run_dir / BEST_MODEL))
    start_variants_folder(inputs, config)
    previous = read_variants_doc(run_dir)
    family = Family.start(inputs, config, say)
    for i, plan in enumerate(plans):
        family.make(plan)
        family.release(plans[i + 1 :])
        doc = family.document(previous)
        write_json(run_dir / VARIANTS_JSON, doc)
        family.top1.write()
    result = CompressResult(run_dir, doc, tuple(family.measured))
    if strict:
        result.raise_for_failures()
    return result


def _percent(target: float) -> str:
    return f"{100 * target:.4g}"


def plan_family(config: CompressConfig) -> list[SourcePlan]:
    """Sources in build order; each parent is planned before its children."""
    modes = tuple(m for m in QUANTIZATION_MODES if m in config.quantize)
    # float32 of the trained model is always made: every size ratio is against it.
    float_modes = ("float32", *(m for m in modes if m != "float32"))
    plans = [SourcePlan("float", None, TRAINED, float_modes)]
    for target in config.pruning_targets:
        name = f"pruned{_percent(target)}"
        plans.append(_plan(name, "float", "prune", modes, target))
        plans += _derived(name, target, modes, config, cluster=True)
    # Clustering follows pruning when there is pruning (Deep Compression's order):
    # clustering the dense model as well would double the fine-tuning for a variant
    # that cannot beat its pruned sibling on size.
    return plans + _derived("float", 0.0, modes, config, cluster=not config.pruning_targets)


def _plan(
    name: str, parent: str, technique: str, asked: tuple[str, ...], target: float, clusters: int = 0
) -> SourcePlan:
    """A source made by ``technique``: its row says what it exports and how it trains."""
    row = TECHNIQUES[technique]
    return SourcePlan(
        name, parent, technique, row.modes(asked), target, clusters, row.quantization_aware
    )


def _derived(
    parent: str, target: float, modes: tuple[str, ...], config: CompressConfig, cluster: bool
) -> list[SourcePlan]:
    prefix = "" if parent == "float" else f"{parent}-"
    plans = []
    if config.qat:
        plans.append(_plan(f"{prefix}qat", parent, "qat", modes, target))
    if config.qat_int4:
        plans.append(_plan(f"{prefix}qat4", parent, "qat4", modes, target))
    if config.clusters and cluster:
        name = f"{prefix}clustered{config.clusters}"
        plans.append(_plan(name, parent, "cluster", modes, target, config.clusters))
    return plans


def read_variants_doc(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``variants.json`` as it is now; None when there is none, or it is
    unreadable or has no list of variants (nothing to merge then)."""
    path = run_dir / VARIANTS_JSON
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("variants"), list) else None
