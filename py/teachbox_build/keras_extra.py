"""The optional `keras` extra (tensorflowjs, which brings TensorFlow, Keras 3 and tf_keras): imported only by the
commands that need it, so the default build stays numpy-only and starts in a fraction of a second.

TensorFlow takes ~11 s to import and prints start-up chatter (CUDA probes, oneDNN notes) that would bury the one
line a build prints on failure, so its C++ logging is turned down before the first import. tensorflowjs also imports
tensorflow_decision_forests, whose welcome banner imports IPython (not installed) whenever stdout is not the
terminal's own file (a pipe wrapper, pytest's capture): the variable that turns the banner off avoids that.
"""

from __future__ import annotations

import os
from types import ModuleType

from .errors import BuildError

INSTALL_HINT = "pip install -e '.[keras]'"


def tensorflowjs() -> ModuleType:
    """The tensorflowjs package (its converters write TF.js models), or a BuildError saying how to install it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    try:
        import tensorflowjs as tfjs
    except ImportError as error:
        raise BuildError(f"this command needs the keras extra ({error.name or error} is not importable): "
                         f"{INSTALL_HINT}") from None
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # "Compiled the loaded model, but…" and the like, once per conversion
    return tfjs
