"""Saving projects: what a saved project is (manifest), IndexedDB (database) and the project zip (archive)."""
