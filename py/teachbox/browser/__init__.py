"""The boundary to the browser: the only modules that import `js`/`pyodide` (ui/dom.py aside, for the DOM)."""
