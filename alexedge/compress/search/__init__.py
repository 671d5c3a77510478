"""Accuracy-aware compression search: ``alexedge compress RUN --max-loss PT``.

``space`` holds the candidate recipes and the ladder of stages (cheapest first),
``search`` the loop and its skip and budget rules, ``selection`` the split of the
validation images into the half that selects and the half that reports, ``record`` the
``search`` object of ``variants.json``, ``config`` the ``SearchConfig``; those are pure
(no TensorFlow) and tested with a fake evaluator. ``images`` holds the two sets of
images with the float model's answers, and ``runner`` (``search_run``) builds and
measures real candidates with the compress techniques and writes ``variants.json`` with
the family's own helpers (``compress.family``: metadata, Keras scores, the document).

Import what you need from its module (``alexedge.compress.search.runner.search_run``):
nothing is re-exported here, as in ``alexedge.compress``.
"""

__all__: list[str] = []
