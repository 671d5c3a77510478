"""The compression techniques as a table: one row per technique, like ``alexedge.modes``.

A row says how a source is made from its parent (``make``: wrap -> fine-tune -> strip,
the technique module's own function) and what follows from the technique: which modes
its source exports, whether its variants are quantization-aware, report sparsity or are
checked for collapse. The planner and ``compress.family`` read these fields instead of
testing technique names, so adding a technique is its module, its row here and its
line in ``planner._derived``; the search (``compress.search.runner``) makes its pruned,
clustered and int4-aware models through the same ``make``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alexedge.compress.config import CompressConfig
from alexedge.modes import MODES

if TYPE_CHECKING:
    from alexedge.compress.techniques.finetune import FinetuneData

__all__ = ["TECHNIQUES", "Technique"]


# wrap -> fine-tune -> strip: (parent model, data, config, sparsity target) -> model.
Make = Callable[[Any, "FinetuneData", CompressConfig, float], Any]


def _asked(modes: tuple[str, ...]) -> tuple[str, ...]:
    return modes


def _integer_io(modes: tuple[str, ...]) -> tuple[str, ...]:
    # QAT trains for integer arithmetic: only the full-integer modes are worth exporting.
    return tuple(m for m in modes if MODES[m].integer_io)


def _int4(modes: tuple[str, ...]) -> tuple[str, ...]:
    del modes  # trained on the int4 grid: any other mode would round it again
    return ("int4",)


@dataclass(frozen=True)
class Technique:
    """How a source is made from its parent, and what follows from that technique.

    Attributes:
        name: the ``SourcePlan.technique`` value.
        make: wrap -> fine-tune -> strip, from the parent's Keras model to the source's.
        modes: the modes its source exports, from the asked ones.
        quantization_aware: trained with quantization in the graph: its variants say
            ``qat`` and get no post-training error report (their ranges are trained).
        reports_sparsity: its model's per-layer sparsity goes into ``variants.json``.
        checks_collapse: its variants fail when its model falls far below its parent
            (``cluster.collapse_error``): the files agree with a collapsed model, so
            verification alone would pass one at chance.
    """

    name: str
    make: Make
    modes: Callable[[tuple[str, ...]], tuple[str, ...]] = _asked
    quantization_aware: bool = False
    reports_sparsity: bool = False
    checks_collapse: bool = False


# The techniques are imported when a source is made: planning never loads TensorFlow.
def _prune(parent: Any, data: FinetuneData, config: CompressConfig, target: float) -> Any:
    from alexedge.compress.techniques.prune import prune

    return prune(parent, data, config, target)


def _cluster(parent: Any, data: FinetuneData, config: CompressConfig, target: float) -> Any:
    from alexedge.compress.techniques.cluster import cluster

    keep_zeros = config.preserve_sparsity and target > 0
    return cluster(parent, data, config, preserve_sparsity=keep_zeros)


def _qat(parent: Any, data: FinetuneData, config: CompressConfig, target: float) -> Any:
    from alexedge.compress.techniques.qat import qat_finetune

    return qat_finetune(parent, data, config, preserve_sparsity=target > 0)


def _qat4(parent: Any, data: FinetuneData, config: CompressConfig, target: float) -> Any:
    from alexedge.compress.techniques.qat4 import qat4_finetune

    return qat4_finetune(parent, data, config, keep_zeros=target > 0)


TECHNIQUES: dict[str, Technique] = {
    t.name: t
    for t in (
        Technique("prune", _prune, reports_sparsity=True),
        Technique("qat", _qat, _integer_io, quantization_aware=True),
        Technique("qat4", _qat4, _int4, quantization_aware=True, reports_sparsity=True),
        Technique("cluster", _cluster, reports_sparsity=True, checks_collapse=True),
    )
}
