"""dist/sw.js: the offline service worker, rendered from site/sw.js with this build's digest and file list.

The worker precaches every file listed in build-manifest.json (plus the manifest itself), each with its SHA-256 as a
subresource-integrity check, into a cache named after the build digest. sw.js itself is not in the list (the browser
fetches it for update checks, bypassing every cache), and neither is _headers (host configuration, not served).
Because the file list and digest are inside sw.js, any change to any file of the build changes sw.js's bytes, which
is how browsers notice a new version.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from .errors import BuildError

TEMPLATE = "site/sw.js"
OUTPUT = "sw.js"
BUILD_PLACEHOLDER = "__TEACHBOX_BUILD__"
PRECACHE_PLACEHOLDER = "/* __TEACHBOX_PRECACHE__ */"
CACHE_PREFIX = "teachbox-"


def integrity(sha256_hex: str) -> str:
    """The subresource-integrity string (`sha256-<base64>`) for a hex SHA-256."""
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def cache_name(manifest: dict) -> str:
    return f"{CACHE_PREFIX}{manifest['build']}"


def precache_entries(manifest: dict, manifest_bytes: bytes | None = None) -> list[list]:
    """[path, integrity, bytes] for every file of the manifest, plus build-manifest.json itself when its bytes are
    given (it is written after the list it holds, so it cannot list itself)."""
    entries = [[f["path"], integrity(f["sha256"]), f["bytes"]] for f in manifest["files"]]
    if manifest_bytes is not None:
        entries.append(["build-manifest.json", integrity(hashlib.sha256(manifest_bytes).hexdigest()),
                        len(manifest_bytes)])
    return entries


def render(template: str, manifest: dict, manifest_bytes: bytes | None = None) -> str:
    """The worker's source for this build; the template must hold each placeholder exactly once."""
    for placeholder in (BUILD_PLACEHOLDER, PRECACHE_PLACEHOLDER):
        if template.count(placeholder) != 1:
            raise BuildError(f"{TEMPLATE} must contain {placeholder} exactly once")
    entries = ",\n  ".join(json.dumps(entry, ensure_ascii=False)
                           for entry in precache_entries(manifest, manifest_bytes))
    return (template.replace(BUILD_PLACEHOLDER, manifest["build"])
            .replace(PRECACHE_PLACEHOLDER, f"\n  {entries},\n"))


def write_service_worker(root: Path, dist: Path, manifest: dict, manifest_file: str) -> Path:
    """Render site/sw.js into dist/sw.js for the build described by `manifest` (already written to dist)."""
    source = root / TEMPLATE
    if not source.is_file():
        raise BuildError(f"{TEMPLATE} is missing from the checkout")
    target = dist / OUTPUT
    target.write_text(render(source.read_text(encoding="utf-8"), manifest, (dist / manifest_file).read_bytes()),
                      encoding="utf-8")
    return target
