// Bare Pyodide start: loadPyodide from the build's own copy, then one Python statement. Nothing else competes.
import { loadPyodide } from "/vendor/pyodide/pyodide.mjs";

window.barePyodide = (async () => {
  const pyodide = await loadPyodide({ indexURL: "/vendor/pyodide/" });
  const version = pyodide.runPython("import sys; sys.version.split()[0]");
  return { pythonAt: performance.now(), python: version, pyodide: pyodide.version };
})();
