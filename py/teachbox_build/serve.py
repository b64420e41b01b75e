"""A static file server for dist/ (the preview behind `build.py serve`, and the tests' server).

It serves exactly what a static host would: files, with the MIME types the page depends on (`.wasm` must be
`application/wasm` for streaming compilation, `.mjs` must be JavaScript for module imports) and the response headers
a host should be configured to send. Extra mounts let the tests expose ../shared beside the site on the same origin.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .headers import security_headers

MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".py": "text/plain; charset=utf-8",
    ".bin": "application/octet-stream",
    ".csv": "text/csv; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}

# What every response of the site carries (CSP, Referrer-Policy, …): defined once in headers.py, which also writes
# dist/_headers so a static host sends the same (see README, "Deploying").
SECURITY_HEADERS = security_headers()
# Extra mounts (the tests' data folders) stand for files that are not part of the site: they get the headers that
# describe a file, not the site's page policy (a test page under /scratch/ plays "someone else's page").
MOUNT_HEADERS = {name: SECURITY_HEADERS[name] for name in ("X-Content-Type-Options", "Referrer-Policy")}


class _Handler(SimpleHTTPRequestHandler):
    """Maps URL prefixes to folders; everything else resolves inside the site root."""

    mounts: dict[str, Path] = {}
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def translate_path(self, path: str) -> str:
        url_path = unquote(urlsplit(path).path)
        for prefix, folder in self.mounts.items():
            if url_path.startswith(prefix):
                # normpath, not resolve: `..` can never climb out, while symlinks placed inside a mount still work.
                candidate = os.path.normpath(os.path.join(folder, url_path[len(prefix):].lstrip("/")))
                if candidate == str(folder) or candidate.startswith(str(folder) + os.sep):
                    return candidate
                return str(folder / "__outside__")
        return super().translate_path(path)

    def in_mount(self) -> bool:
        url_path = unquote(urlsplit(getattr(self, "path", "")).path)  # no path yet when the request line was bad
        return any(url_path.startswith(prefix) for prefix in self.mounts)

    def end_headers(self) -> None:
        for name, value in (MOUNT_HEADERS if self.in_mount() else SECURITY_HEADERS).items():
            self.send_header(name, value)
        # Revalidate on every load: content-hashed files never change, and the rest must not go stale after a build.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed by the base class
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(format, *args)


class StaticServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to 127.0.0.1 that serves `root` plus optional mounts."""

    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, mounts: dict[str, Path] | None = None, verbose: bool = False):
        mounts = {prefix: folder.resolve() for prefix, folder in (mounts or {}).items()}
        handler = type("Handler", (_Handler,), {"mounts": mounts})
        super().__init__(("127.0.0.1", port), functools.partial(handler, directory=str(root)))
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start_in_thread(self) -> threading.Thread:
        """Serve in a daemon thread (for tests); call shutdown() to stop."""
        thread = threading.Thread(target=self.serve_forever, name="teachbox-static", daemon=True)
        thread.start()
        return thread


def serve(root: Path, port: int) -> None:
    """Serve dist until Ctrl-C; prints the URL to open."""
    mimetypes.init()
    with StaticServer(root, port, verbose=True) as server:
        print(f"Serving {root} at {server.url}  (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")
