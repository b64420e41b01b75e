"""Build-time tools (CPython only): weights conversion, runtime file selection, site assembly, preview server."""
