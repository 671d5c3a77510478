"""Compression techniques, each ``wrap -> fine-tune -> strip`` from a Keras model to one.

``wrap`` (layer-by-layer wrapping on a private copy) and ``finetune`` (the run's own
recipe) are shared by ``prune``, ``cluster``, ``qat`` and ``qat4``.
"""

__all__: list[str] = []
