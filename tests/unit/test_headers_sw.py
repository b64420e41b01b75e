"""The security headers (one source: teachbox_build/headers.py) and the offline service worker the build renders."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from teachbox_build import headers
from teachbox_build.assemble import FILE_MANIFEST, write_file_manifest
from teachbox_build.errors import BuildError
from teachbox_build.service_worker import (
    PRECACHE_PLACEHOLDER,
    cache_name,
    integrity,
    precache_entries,
    render,
    write_service_worker,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "site" / "sw.js").read_text(encoding="utf-8")


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


# -- Content-Security-Policy ----------------------------------------------------------------------------------------


def test_policy_allows_only_own_origin() -> None:
    policy = directives(headers.content_security_policy())
    assert policy["default-src"] == ["'self'"]
    for name, sources in policy.items():
        for source in sources:
            # Keywords only: no host, scheme (https:, data:, blob:) or wildcard anywhere.
            assert re.fullmatch(r"'[a-z-]+'", source), f"{name} allows {source}"
        assert "'unsafe-inline'" not in sources, name
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'wasm-unsafe-eval'" in policy["script-src"]


def test_every_exception_is_justified() -> None:
    for name, (sources, why) in headers.CSP_DIRECTIVES.items():
        assert sources and why.strip(), name
    source = (ROOT / "py" / "teachbox_build" / "headers.py").read_text(encoding="utf-8")
    assert "'unsafe-eval': PyScript" in source and "'wasm-unsafe-eval': compiling WebAssembly" in source


def test_meta_policy_drops_header_only_directives() -> None:
    header = directives(headers.content_security_policy())
    meta = directives(headers.content_security_policy(meta=True))
    assert "frame-ancestors" in header and "frame-ancestors" not in meta
    assert {k: v for k, v in header.items() if k != "frame-ancestors"} == meta


def test_security_headers() -> None:
    sent = headers.security_headers()
    assert sent["Content-Security-Policy"] == headers.content_security_policy()
    assert sent["Referrer-Policy"] == "no-referrer"
    assert sent["X-Content-Type-Options"] == "nosniff"
    features = dict(item.split("=", 1) for item in sent["Permissions-Policy"].split(", "))
    assert features.pop("camera") == "(self)"
    assert features and set(features.values()) == {"()"}, "everything but the camera is off"
    assert "microphone" in features and "geolocation" in features


def test_headers_file_for_static_hosts() -> None:
    text = headers.headers_file(["index.html", "vendor/pyodide/pyodide.asm.wasm", "vendor/pyodide/pyodide.mjs",
                                 "boot.js"])
    blocks: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            current = blocks.setdefault(line, {})
        else:
            name, value = line.strip().split(": ", 1)
            current[name] = value
    assert blocks["/*"] == headers.security_headers()
    assert blocks["/sw.js"] == {"Cache-Control": "no-cache"}
    assert blocks["/vendor/pyodide/pyodide.asm.wasm"] == {"Content-Type": "application/wasm"}
    assert blocks["/vendor/pyodide/pyodide.mjs"] == {"Content-Type": "text/javascript"}
    assert "/boot.js" not in blocks


def test_meta_goes_right_after_charset_and_before_any_script() -> None:
    page = '<!doctype html>\n<head>\n  <meta charset="utf-8">\n  <script src="boot.js"></script>\n</head>'
    out = headers.inject_csp_meta(page)
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', out)
    assert meta and out.index('<meta charset="utf-8">') < meta.start() < out.index("<script")
    assert meta.group(1).replace("&quot;", '"') == headers.content_security_policy(meta=True)
    with pytest.raises(ValueError):
        headers.inject_csp_meta(out)  # twice
    with pytest.raises(ValueError):
        headers.inject_csp_meta("<head><script></script></head>")  # nowhere safe to put it


def test_site_index_takes_the_meta() -> None:
    page = (ROOT / "site" / "index.html").read_text(encoding="utf-8")
    out = headers.inject_csp_meta(page)
    assert out.index("Content-Security-Policy") < out.index("<script") and out.index("<link")
    assert 'id="update-notice"' in page and "style=" not in page  # no inline styles under style-src 'self'


# -- service worker -------------------------------------------------------------------------------------------------


def fake_dist(folder: Path) -> Path:
    (folder / "vendor").mkdir(parents=True)
    (folder / "index.html").write_text("<html>page</html>", encoding="utf-8")
    (folder / "boot.js").write_text("// boot", encoding="utf-8")
    (folder / "vendor" / "runtime.wasm").write_bytes(bytes(range(256)) * 10)
    (folder / "vendor" / "name with space.js").write_text("x", encoding="utf-8")
    return folder


def precache_of(source: str) -> list[list]:
    body = source.split("const PRECACHE = [", 1)[1].split("];", 1)[0]
    return json.loads("[" + body.strip().rstrip(",") + "]")


def test_integrity_is_base64_sha256() -> None:
    data = b"teachbox"
    expected = "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert integrity(hashlib.sha256(data).hexdigest()) == expected


def test_every_manifest_file_is_precached_with_its_hash(tmp_path: Path) -> None:
    dist = fake_dist(tmp_path / "dist")
    manifest = write_file_manifest(dist, "0.0")
    worker = write_service_worker(ROOT, dist, manifest, FILE_MANIFEST).read_text(encoding="utf-8")
    entries = precache_of(worker)
    by_path = {path: (sri, size) for path, sri, size in entries}
    assert len(by_path) == len(entries)
    for entry in manifest["files"]:
        data = (dist / entry["path"]).read_bytes()
        assert by_path[entry["path"]] == (f"sha256-{base64.b64encode(hashlib.sha256(data).digest()).decode()}",
                                          len(data))
    manifest_bytes = (dist / FILE_MANIFEST).read_bytes()
    assert by_path[FILE_MANIFEST] == (integrity(hashlib.sha256(manifest_bytes).hexdigest()), len(manifest_bytes))
    assert set(by_path) == {e["path"] for e in manifest["files"]} | {FILE_MANIFEST}
    assert "sw.js" not in by_path
    assert f'const BUILD = "{manifest["build"]}";' in worker
    assert cache_name(manifest) == f"teachbox-{manifest['build']}"
    assert "__TEACHBOX" not in worker


def test_digest_and_worker_change_when_any_file_changes(tmp_path: Path) -> None:
    dist = fake_dist(tmp_path / "dist")

    def manifest() -> dict:  # as a build does: the manifest never lists an earlier manifest
        (dist / FILE_MANIFEST).unlink(missing_ok=True)
        return write_file_manifest(dist, "0.0")

    first = manifest()
    worker_1 = render(TEMPLATE, first)
    assert manifest()["build"] == first["build"]  # deterministic
    (dist / "vendor" / "runtime.wasm").write_bytes(b"another build")
    second = manifest()
    assert second["build"] != first["build"]
    worker_2 = render(TEMPLATE, second)
    assert worker_2 != worker_1 and second["build"] in worker_2 and first["build"] not in worker_2


def test_template_placeholders_are_checked() -> None:
    manifest = {"build": "0123456789abcdef", "files": []}
    with pytest.raises(BuildError):
        render(TEMPLATE.replace(PRECACHE_PLACEHOLDER, ""), manifest)
    with pytest.raises(BuildError):
        render(TEMPLATE + TEMPLATE, manifest)
    assert precache_entries(manifest) == []


def test_rendered_worker_is_valid_javascript(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    dist = fake_dist(tmp_path / "dist")
    worker = write_service_worker(ROOT, dist, write_file_manifest(dist, "0.0"), FILE_MANIFEST)
    result = subprocess.run(["node", "--check", str(worker)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_worker_only_handles_same_origin_gets_and_never_caches_at_run_time() -> None:
    fetch_handler = TEMPLATE.split('addEventListener("fetch"', 1)[1].split("self.addEventListener", 1)[0]
    assert 'request.method !== "GET"' in fetch_handler and "url.origin !== self.location.origin" in fetch_handler
    # Install writes to the cache, and at run time only onDemand: the build's own sample files (ON_DEMAND, checked
    # by integrity). Nothing else fetched at run time (a user's images, CSVs) is ever stored.
    assert TEMPLATE.count("cache.put(") == 2 and TEMPLATE.index("cache.put(") < TEMPLATE.index('"activate"')
    on_demand = TEMPLATE.split("async function onDemand(", 1)[1].split("\n}\n", 1)[0]
    assert "cache.put(" in on_demand and "integrity: LAZY.get(path)" in on_demand
    assert fetch_handler.index("LAZY.has(path)") < fetch_handler.index("onDemand(path)")


def test_static_server_sends_the_headers_on_the_site_only(tmp_path: Path) -> None:
    import urllib.request

    from teachbox_build.serve import StaticServer

    site, data = tmp_path / "site", tmp_path / "data"
    site.mkdir()
    data.mkdir()
    (site / "index.html").write_text("<html></html>", encoding="utf-8")
    (site / "sw.js").write_text("// worker", encoding="utf-8")
    (data / "page.html").write_text("<script>inline</script>", encoding="utf-8")
    with StaticServer(site, 0, mounts={"/data/": data}) as server:
        server.start_in_thread()
        try:
            for path in ("", "sw.js"):
                with urllib.request.urlopen(server.url + path) as response:
                    for name, value in headers.security_headers().items():
                        assert response.headers[name] == value, (path, name)
                    assert response.headers["Cache-Control"] == "no-cache"
            # A mount stands for files beside the site (the tests' data): no page policy, still nosniff.
            with urllib.request.urlopen(server.url + "data/page.html") as response:
                assert response.headers["Content-Security-Policy"] is None
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        finally:
            server.shutdown()
