"""Which TF.js backend to run on: pure decision logic, unit-tested on CPython.

WebGL is only fast on a real GPU. Where the WebGL renderer is a software rasteriser (SwiftShader in headless
Chromium, llvmpipe on GPU-less Linux desktops) it is much slower than the wasm backend, so the renderer string decides.
"""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("webgl", "wasm", "cpu")
SOFTWARE_RENDERER_MARKERS = ("swiftshader", "llvmpipe", "softpipe", "software", "basic render")


@dataclass(frozen=True)
class WebGLProbe:
    """What the page learned about WebGL2 before choosing: whether a context exists and its unmasked renderer."""

    available: bool
    renderer: str = ""

    @property
    def software(self) -> bool:
        return is_software_renderer(self.renderer)


def is_software_renderer(renderer: str) -> bool:
    """True for renderer strings of CPU rasterisers, where WebGL would be slower than wasm."""
    lowered = renderer.lower()
    return any(marker in lowered for marker in SOFTWARE_RENDERER_MARKERS)


def backend_candidates(requested: str | None, probe: WebGLProbe) -> list[tuple[str, str]]:
    """Backends to try in order, each with the reason shown to the user. The first that initialises wins.

    An explicit `?backend=` request goes first; the automatic order follows after it as the fallback, so a request
    the browser cannot honour still ends in a working page (and the reason says so).
    """
    automatic: list[tuple[str, str]] = []
    if probe.available and not probe.software:
        automatic.append(("webgl", f"hardware WebGL ({probe.renderer or 'unknown renderer'})"))
    if not probe.available:
        wasm_reason = "WebGL is not available"
    elif probe.software:
        wasm_reason = f"WebGL renderer is software ({probe.renderer}), wasm is faster"
    else:
        wasm_reason = "fallback after WebGL"
    automatic.append(("wasm", wasm_reason))
    if probe.available and probe.software:
        automatic.append(("webgl", "software WebGL, slow"))
    automatic.append(("cpu", "last resort: plain JavaScript"))

    ordered: list[tuple[str, str]] = []
    if requested:
        name = requested.strip().lower()
        if name in BACKENDS:
            ordered.append((name, "requested by ?backend="))
    for name, reason in automatic:
        if all(name != chosen for chosen, _ in ordered):
            ordered.append((name, reason))
    return ordered
