"""Teachbox: train image classifiers in the browser, with Python driving TensorFlow.js.

The package is split in two halves so that most of it runs (and is unit-tested) on plain CPython:
pure modules (datasets, preprocessing geometry, backend choice, metrics) import nothing from the browser, and
`teachbox.jsbridge` is the one thin module that touches `js` / `pyodide`.
"""

__version__ = "0.1.0"
