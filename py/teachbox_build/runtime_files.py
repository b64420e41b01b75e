"""Which files of node_modules the page needs at run time, and getting node_modules in place.

node_modules holds ~330 MB; the page loads ~17 MB of it. Listing the files explicitly (instead of copying packages
whole) keeps dist small and makes a missing runtime file a build error rather than a 404 in a user's browser.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError


@dataclass(frozen=True)
class RuntimeFiles:
    """A group of files copied from one node_modules folder into one dist folder."""

    package: str
    source_dir: str
    target_dir: str
    names: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def select(self, node_modules: Path) -> list[Path]:
        """The source files of this group; every explicitly named file must exist."""
        folder = node_modules / self.package / self.source_dir
        if not folder.is_dir():
            raise BuildError(f"{folder} is missing: run `npm ci` (or delete node_modules and build again)")
        chosen = [folder / name for name in self.names]
        missing = [p.name for p in chosen if not p.is_file()]
        if missing:
            raise BuildError(f"{self.package} in node_modules lacks {', '.join(missing)}: run `npm ci` to repair it")
        if self.suffixes:
            chosen += sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(self.suffixes))
        return chosen


RUNTIME = (
    # Core-only Pyodide: the interpreter, its stdlib and the lock file it reads at start (never fetched packages).
    RuntimeFiles("pyodide", ".", "vendor/pyodide",
                 names=("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")),
    # PyScript's ES modules are code-split chunks that import each other by relative URL: take them all, without maps.
    RuntimeFiles("@pyscript/core", "dist", "vendor/pyscript", names=("core.js", "core.css"), suffixes=(".js", ".css")),
    RuntimeFiles("@tensorflow/tfjs", "dist", "vendor/tfjs", names=("tf.min.js",)),
    # The wasm backend picks plain, SIMD or threaded-SIMD binaries at run time depending on the browser and headers.
    RuntimeFiles("@tensorflow/tfjs-backend-wasm", "dist", "vendor/tfjs",
                 names=("tf-backend-wasm.min.js", "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm",
                        "tfjs-backend-wasm-threaded-simd.wasm")),
)


def ensure_node_modules(root: Path) -> Path:
    """Run `npm ci` when node_modules is absent, so a fresh clone builds with one command."""
    node_modules = root / "node_modules"
    if all((node_modules / group.package / "package.json").is_file() for group in RUNTIME):
        return node_modules
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed: install Node.js 20+ (it brings npm), then build again")
    print("node_modules missing: running npm ci", flush=True)
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"npm ci failed ({last}); check the network access to the npm registry")
    return node_modules


def copy_runtime(node_modules: Path, dist: Path) -> list[Path]:
    """Copy every runtime file into dist; returns the written paths."""
    written: list[Path] = []
    for group in RUNTIME:
        target = dist / group.target_dir
        target.mkdir(parents=True, exist_ok=True)
        for source in group.select(node_modules):
            destination = target / source.name
            shutil.copyfile(source, destination)
            written.append(destination)
    return written
