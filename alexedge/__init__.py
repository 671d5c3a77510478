"""alexedge: train AlexNet-style classifiers, compress them and ship them as TFLite.

The import package is split the way an image travels: ``data`` (files on disk to
arrays), ``train`` (Keras models and the loop), ``compress`` (pruning and TFLite
conversion), ``edge_runtime`` (classification with only numpy, Pillow and a TFLite
interpreter), ``android_assets`` (an app-ready folder) and ``report``.
"""

from alexedge.errors import AlexEdgeError

__version__ = "0.1.0"
__all__ = ["AlexEdgeError", "__version__"]
