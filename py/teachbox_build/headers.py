"""The site's security headers, defined once: `build.py serve` and the tests' server send them, the build writes them
into dist/_headers (Netlify / Cloudflare Pages format) and the Content-Security-Policy also as a <meta> tag into
dist/index.html (so a host that cannot set headers still enforces it; frame-ancestors works only as a header).

The policy allows the page's own origin and nothing else: no CDN, no analytics, no remote fonts, no inline code.
Every exception below was found by running boot, dataset loading, training, prediction, export and import under the
policy in Chromium and reading its `securitypolicyviolation` reports (tests/e2e/test_offline.py asserts none occur).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

# name → (sources, why). Order is the order in the header. `'self'` is the page's origin (scheme, host and port).
CSP_DIRECTIVES: dict[str, tuple[tuple[str, ...], str]] = {
    "default-src": (("'self'",), "anything not listed below: own origin only (fonts, media, manifest, frames)"),
    # 'wasm-unsafe-eval': compiling WebAssembly (Pyodide's interpreter, TF.js's wasm backend). Measured: without it
    #   WebAssembly.instantiateStreaming fails in pyodide.mjs and the page never starts.
    # 'unsafe-eval': PyScript 0.7.31 builds its hook functions with Function() while it starts (core-*.js, getter
    #   `worker.onBeforeRunAsync`, reached even on the main thread), and tf.min.js's bundled regenerator polyfill
    #   calls Function() once. Measured: without it start-up dies with EvalError. Bare Pyodide (loadPyodide) with
    #   tf.es2017.min.js + tf-backend-wasm.es2017.min.js booted and trained here without it, so dropping PyScript
    #   for a small loader is what would remove this exception. No remote or inline script is allowed either way.
    "script-src": (("'self'", "'unsafe-eval'", "'wasm-unsafe-eval'"),
                   "own scripts only; eval for PyScript/TF.js start-up; WebAssembly compilation"),
    # No 'unsafe-inline': the UI sets styles through the CSSOM (element.style.x = …), which CSP allows.
    "style-src": (("'self'",), "own stylesheets (app.css, PyScript's core.css); no inline <style> or style=\"\""),
    # Thumbnails are drawn on <canvas> (teachbox/ui/thumbs.py), so no blob: or data: images are needed.
    "img-src": (("'self'",), "own icon and same-origin images"),
    # fetch() of the runtime, models, CSVs and images, and the service worker's precache: own origin only. This is
    # what stops fetch/XHR/WebSocket/sendBeacon to any other origin, even from a bug or an injected library
    # (top-level navigation and WebRTC are outside CSP's reach; the app uses neither).
    "connect-src": (("'self'",), "fetch/XHR to own origin only"),
    "worker-src": (("'self'",), "the offline service worker (sw.js); no blob: workers are used"),
    "object-src": (("'none'",), "no plugins"),
    "base-uri": (("'none'",), "no <base> that could re-point relative URLs"),
    # The page's forms are handled in script; a native submission (to anywhere) is never wanted.
    "form-action": (("'none'",), "no form submission"),
    "frame-ancestors": (("'none'",), "no other site may frame the page (header only: ignored in <meta>)"),
}

# Directives a <meta http-equiv> policy cannot carry (the CSP spec ignores them there and Chromium warns).
HEADER_ONLY_DIRECTIVES = ("frame-ancestors", "report-uri", "sandbox")

# Permissions-Policy: the camera for the webcam capture (own origin only); every other powerful feature off, for
# this page and for any frame. Only features Chromium 156 recognises are listed: an unknown name (e.g. `bluetooth`)
# logs a console warning on every load. Left at the browser default (own origin) on purpose: `autoplay` (the camera
# preview calls video.play() after getUserMedia resolves, outside the click's activation) and `clipboard-write`
# (the export panel's "copy code" button).
PERMISSIONS = {
    "camera": "(self)",
    "microphone": "()",
    "geolocation": "()",
    "display-capture": "()",
    "usb": "()",
    "serial": "()",
    "hid": "()",
    "midi": "()",
    "payment": "()",
    "accelerometer": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "xr-spatial-tracking": "()",
    "screen-wake-lock": "()",
    "idle-detection": "()",
    "publickey-credentials-get": "()",
    "encrypted-media": "()",
    "fullscreen": "()",
    "picture-in-picture": "()",
    "browsing-topics": "()",
}


def content_security_policy(*, meta: bool = False) -> str:
    """The policy string; `meta=True` leaves out what a <meta http-equiv> cannot express."""
    parts = []
    for name, (sources, _why) in CSP_DIRECTIVES.items():
        if meta and name in HEADER_ONLY_DIRECTIVES:
            continue
        parts.append(" ".join((name, *sources)))
    return "; ".join(parts)


def permissions_policy() -> str:
    return ", ".join(f"{name}={allow}" for name, allow in PERMISSIONS.items())


def security_headers() -> dict[str, str]:
    """What every response of the site carries (the page, its scripts, sw.js, models)."""
    return {
        "Content-Security-Policy": content_security_policy(),
        "Referrer-Policy": "no-referrer",  # no URL of the page (or of a user's data) is ever sent anywhere
        "X-Content-Type-Options": "nosniff",  # scripts and wasm run only when served with their real type
        "Permissions-Policy": permissions_policy(),
        # A window opened from another site (or opening one) gets no handle on this page.
        "Cross-Origin-Opener-Policy": "same-origin",
    }


@dataclass(frozen=True)
class PathRule:
    """Extra headers for one URL path of the site (relative to its root), e.g. no caching for sw.js."""

    path: str
    headers: tuple[tuple[str, str], ...]


# The service worker must be re-checked on every load (a cached sw.js would hide new versions); the page shell too.
NO_CACHE = (("Cache-Control", "no-cache"),)
# Types some hosts get wrong: wasm must be application/wasm (streaming compilation), .mjs must be JavaScript.
MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript"}


def path_rules(files: list[str]) -> list[PathRule]:
    """Per-path rules for dist/_headers: sw.js and the page never cached long; explicit types for .wasm/.mjs."""
    rules = [PathRule("/sw.js", NO_CACHE), PathRule("/", NO_CACHE), PathRule("/index.html", NO_CACHE),
             PathRule("/build-manifest.json", NO_CACHE)]
    for path in sorted(files):
        for suffix, mime in MIME_TYPES.items():
            if path.endswith(suffix):
                rules.append(PathRule(f"/{path}", (("Content-Type", mime),)))
    return rules


def headers_file(files: list[str]) -> str:
    """dist/_headers for Netlify and Cloudflare Pages: the security headers on every path, then per-path rules."""
    lines = ["# Written by build.py from py/teachbox_build/headers.py; do not edit (rebuild instead).", "/*"]
    lines += [f"  {name}: {value}" for name, value in security_headers().items()]
    for rule in path_rules(files):
        lines.append(rule.path)
        lines += [f"  {name}: {value}" for name, value in rule.headers]
    return "\n".join(lines) + "\n"


META_ANCHOR = '<meta charset="utf-8">'


def inject_csp_meta(page: str) -> str:
    """Put the policy into the page as <meta http-equiv>, right after <meta charset> (before any script or style,
    which it must precede to cover them)."""
    if META_ANCHOR not in page:
        raise ValueError(f"index.html has no {META_ANCHOR}: the CSP <meta> must go right after it")
    if 'http-equiv="Content-Security-Policy"' in page:
        raise ValueError("index.html already carries a CSP <meta>; the build writes it (headers.py)")
    policy = html.escape(content_security_policy(meta=True), quote=False).replace('"', "&quot;")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    return page.replace(META_ANCHOR, f"{META_ANCHOR}\n  {meta}", 1)
