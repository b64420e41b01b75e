"""dist/sw.js: the offline service worker, rendered from site/sw.js with this build's digest and file list.

The worker precaches every file listed in build-manifest.json (plus the manifest itself), each with its SHA-256 as a
subresource-integrity check, into a cache named after the build digest. sw.js itself is not in the list (the browser
fetches it for update checks, bypassing every cache), and neither is _headers (host configuration, not served).
Because the file list and digest are inside sw.js, any change to any file of the build changes sw.js's bytes, which
is how browsers notice a new version.

Bundled sample data sets (samples/<slug>/…, see samples.py) are the one exception: they are cached on first use,
not precached. A sample is optional content that most visits never open, and it can be as big as the whole app
(the full malaria set is 34 MB against ~18 MB of app): precaching it would make every first visit and every update
download it, for everyone, and an install fails as a whole if any file fails. So the worker lists them apart
(ON_DEMAND, with the same SHA-256 integrity) and stores each one in the build's cache the first time the page
fetches it: a sample opened once works offline, one never opened costs nothing. samples/index.json (the menu) is
small and is precached, so the menu is there offline too. The cache is per build, so an update drops opened samples
with the rest of the old build; they are fetched again, checked against the new build's hashes, when next opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from .errors import BuildError
from .samples import is_on_demand

TEMPLATE = "site/sw.js"
OUTPUT = "sw.js"
BUILD_PLACEHOLDER = "__TEACHBOX_BUILD__"
PRECACHE_PLACEHOLDER = "/* __TEACHBOX_PRECACHE__ */"
ON_DEMAND_PLACEHOLDER = "/* __TEACHBOX_ON_DEMAND__ */"
CACHE_PREFIX = "teachbox-"


def integrity(sha256_hex: str) -> str:
    """The subresource-integrity string (`sha256-<base64>`) for a hex SHA-256."""
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def cache_name(manifest: dict) -> str:
    return f"{CACHE_PREFIX}{manifest['build']}"


def _entry(file: dict) -> list:
    return [file["path"], integrity(file["sha256"]), file["bytes"]]


def precache_entries(manifest: dict, manifest_bytes: bytes | None = None) -> list[list]:
    """[path, integrity, bytes] for every file of the manifest but the on-demand samples, plus build-manifest.json
    itself when its bytes are given (it is written after the list it holds, so it cannot list itself)."""
    entries = [_entry(f) for f in manifest["files"] if not is_on_demand(f["path"])]
    if manifest_bytes is not None:
        entries.append(["build-manifest.json", integrity(hashlib.sha256(manifest_bytes).hexdigest()),
                        len(manifest_bytes)])
    return entries


def on_demand_entries(manifest: dict) -> list[list]:
    """[path, integrity, bytes] of the files cached on first use instead (the bundled samples' files)."""
    return [_entry(f) for f in manifest["files"] if is_on_demand(f["path"])]


def _js_list(entries: list[list]) -> str:
    return "".join(f"\n  {json.dumps(entry, ensure_ascii=False)}," for entry in entries) + ("\n" if entries else "")


def render(template: str, manifest: dict, manifest_bytes: bytes | None = None) -> str:
    """The worker's source for this build; the template must hold each placeholder exactly once."""
    for placeholder in (BUILD_PLACEHOLDER, PRECACHE_PLACEHOLDER, ON_DEMAND_PLACEHOLDER):
        if template.count(placeholder) != 1:
            raise BuildError(f"{TEMPLATE} must contain {placeholder} exactly once")
    return (template.replace(BUILD_PLACEHOLDER, manifest["build"])
            .replace(PRECACHE_PLACEHOLDER, _js_list(precache_entries(manifest, manifest_bytes)))
            .replace(ON_DEMAND_PLACEHOLDER, _js_list(on_demand_entries(manifest))))


def write_service_worker(root: Path, dist: Path, manifest: dict, manifest_file: str) -> Path:
    """Render site/sw.js into dist/sw.js for the build described by `manifest` (already written to dist)."""
    source = root / TEMPLATE
    if not source.is_file():
        raise BuildError(f"{TEMPLATE} is missing from the checkout")
    target = dist / OUTPUT
    target.write_text(render(source.read_text(encoding="utf-8"), manifest, (dist / manifest_file).read_bytes()),
                      encoding="utf-8")
    return target
