"""Compression of a trained run: ``alexedge compress RUN``, as a chain of small steps.

``techniques/`` wrap a Keras model (prune, cluster, QAT, int4 QAT), fine-tune it and
strip the wrappers; ``export/`` turns a Keras model into TFLite bytes, one converter
function per row of ``alexedge.modes``; ``diagnostics/`` measure and verify each file
and report which layers quantization damages; ``planner`` plans the family of variants
from a ``CompressConfig`` (``config``) and runs the chain over it, writing
``variants.json`` (``schema``); ``search/`` instead finds the smallest file within a
top-1 loss (``--max-loss``).

Import what you need from its module (``alexedge.compress.planner.compress_run``):
nothing is re-exported here, so ``alexedge.config``'s import of ``compress.config``
never loads TensorFlow.
"""

__all__: list[str] = []
