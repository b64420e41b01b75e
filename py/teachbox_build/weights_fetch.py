"""Finding a base model's files: a local folder or model.json, or a URL downloaded once into a cache.

Downloads land in cache_dir/<sha256(url)[:16]>/ with every file written atomically and model.json written last, so
a folder is only reused when a previous download finished; an interrupted one is simply fetched again.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import BuildError
from .weights_io import parse_model_json, shard_paths, write_atomic

TIMEOUT_S = 30


def resolve_source(source: str, cache_dir: Path) -> Path:
    """The local folder holding model.json for a --weights value: a folder, a model.json path or an http(s) URL."""
    if source.lower().startswith(("http://", "https://")):
        return _download(source, cache_dir / hashlib.sha256(source.encode()).hexdigest()[:16])
    path = Path(source).expanduser()
    if path.is_file() and path.name == "model.json":
        return path.parent
    if path.is_dir() and (path / "model.json").is_file():
        return path
    if not path.exists():
        raise BuildError(f"weights source {source} does not exist: pass a folder holding model.json or a URL")
    raise BuildError(f"weights source {source} is not a TF.js layers model: expected a folder holding model.json")


def _download(url: str, target: Path) -> Path:
    """model.json and its shards from `url` into `target`, unless a complete earlier download is there."""
    if _is_complete(target):
        return target
    model_bytes = _fetch(url)
    model = parse_model_json(model_bytes, url)
    for path in shard_paths(model):
        write_atomic(target / path, _fetch(urllib.parse.urljoin(url, urllib.parse.quote(path))))
    write_atomic(target / "model.json", model_bytes)
    return target


def _is_complete(target: Path) -> bool:
    """Whether `target` holds a finished download: model.json (written last) and every shard it names."""
    try:
        model = parse_model_json((target / "model.json").read_bytes(), str(target))
    except (OSError, BuildError):
        return False
    return all((target / path).is_file() for path in shard_paths(model))


def _fetch(url: str) -> bytes:
    """The body at `url`; every network failure becomes the one BuildError that points to offline builds."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        reason = f"HTTP {error.code} {error.reason}"
    except urllib.error.URLError as error:
        reason = str(error.reason)
    except (OSError, http.client.HTTPException, ValueError) as error:
        reason = str(error) or type(error).__name__
    raise BuildError(f"cannot download {url} ({reason}); offline? pass --weights DIR with a local TF.js layers model")
