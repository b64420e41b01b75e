"""Teachbox: train image classifiers in the browser, with Python driving TensorFlow.js.

The package is layered; each layer imports only the layers below it (tests/unit/test_architecture.py holds this):
- `errors`, `events`, `backend_choice`: the foundation, plain Python.
- `browser/`: the boundary. The only modules that import `js` / `pyodide` (with `ui/dom.py` for the DOM); every
  call into the page, site/kernels.js and TF.js is a named function there.
- `data/`: what a person brings (classes, labels CSV, splits, image headers, preprocessing geometry, samples).
- `model/`: bases, plans (fusion, fine-tuning, training), the trainer, feature store, extractor and classifier.
- `store/`: saved projects (manifest, IndexedDB database, project zip).
- `runtime`, `session`, `workspace`, `api`, `app`: the running page and `window.teachbox`; `ui/` on top of `api`.
The pure modules run (and are unit-tested) on CPython, the way micropip keeps `_compat_in_pyodide` apart.
"""

__version__ = "0.1.0"
