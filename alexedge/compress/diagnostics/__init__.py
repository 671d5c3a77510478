"""What a variant is worth: ``measure`` (accuracy, size, latency with the edge runtime),
``verify`` (agreement with its Keras model), and the per-layer error reports
(``layer_errors``: isolated, ``tensor_errors``: accumulated).
"""

__all__: list[str] = []
