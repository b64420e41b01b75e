"""Backend choice: the WebGL renderer string decides between webgl and wasm; ?backend= goes first, never twice."""

from __future__ import annotations

import pytest
from teachbox.backend_choice import BACKENDS, WebGLProbe, backend_candidates, is_software_renderer

SOFTWARE_RENDERERS = [
    "Google SwiftShader",
    "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)",
    "llvmpipe (LLVM 15.0.7, 256 bits)",
    "Mesa/X.org, llvmpipe (LLVM 12.0.0, 256 bits)",
    "ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)",
    "softpipe",
    "LLVMPIPE",
]
HARDWARE_RENDERERS = [
    "ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0, D3D11)",
    "ANGLE (Apple, ANGLE Metal Renderer: Apple M1, Unspecified Version)",
    "ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)",
    "ANGLE (AMD, AMD Radeon RX 6800 XT Direct3D11 vs_5_0 ps_5_0, D3D11)",
    "Adreno (TM) 650",
    "Mali-G78",
]


def names(candidates: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in candidates]


def assert_well_formed(candidates: list[tuple[str, str]]) -> None:
    chosen = names(candidates)
    assert len(chosen) == len(set(chosen)), chosen
    assert set(chosen) <= set(BACKENDS)
    assert all(isinstance(reason, str) and reason for _, reason in candidates)


@pytest.mark.parametrize("renderer", SOFTWARE_RENDERERS)
def test_software_renderer_puts_wasm_first(renderer: str) -> None:
    probe = WebGLProbe(True, renderer)
    assert probe.software and is_software_renderer(renderer)
    candidates = backend_candidates(None, probe)
    assert_well_formed(candidates)
    assert names(candidates) == ["wasm", "webgl", "cpu"]
    assert renderer in candidates[0][1]  # the reason names the renderer that made wasm win


@pytest.mark.parametrize("renderer", HARDWARE_RENDERERS)
def test_hardware_renderer_puts_webgl_first(renderer: str) -> None:
    probe = WebGLProbe(True, renderer)
    assert not probe.software
    candidates = backend_candidates(None, probe)
    assert_well_formed(candidates)
    assert names(candidates) == ["webgl", "wasm", "cpu"]
    assert renderer in candidates[0][1]


def test_masked_renderer_counts_as_hardware() -> None:
    candidates = backend_candidates(None, WebGLProbe(True, ""))
    assert names(candidates) == ["webgl", "wasm", "cpu"]
    assert "unknown renderer" in candidates[0][1]


@pytest.mark.parametrize("renderer", ["", "Google SwiftShader", "ANGLE (NVIDIA, NVIDIA GeForce RTX 3080)"])
def test_without_webgl_never_offers_webgl(renderer: str) -> None:
    candidates = backend_candidates(None, WebGLProbe(False, renderer))
    assert_well_formed(candidates)
    assert names(candidates) == ["wasm", "cpu"]
    assert "not available" in candidates[0][1]


@pytest.mark.parametrize("probe, fallback", [
    (WebGLProbe(True, HARDWARE_RENDERERS[0]), ["webgl", "wasm"]),
    (WebGLProbe(True, "Google SwiftShader"), ["wasm", "webgl"]),
    (WebGLProbe(False), ["wasm"]),
])
def test_requested_cpu_goes_first_then_automatic_order_without_duplicates(probe: WebGLProbe,
                                                                         fallback: list[str]) -> None:
    candidates = backend_candidates("cpu", probe)
    assert_well_formed(candidates)
    assert names(candidates) == ["cpu", *fallback]
    assert "?backend=" in candidates[0][1]


def test_requested_backend_keeps_automatic_order_behind_it() -> None:
    probe = WebGLProbe(True, "llvmpipe (LLVM 15.0.7, 256 bits)")
    assert names(backend_candidates("webgl", probe)) == ["webgl", "wasm", "cpu"]
    gpu = WebGLProbe(True, HARDWARE_RENDERERS[0])
    assert names(backend_candidates("wasm", gpu)) == ["wasm", "webgl", "cpu"]
    # An explicit request is honoured even where WebGL is missing; the working fallbacks still follow.
    assert names(backend_candidates("webgl", WebGLProbe(False))) == ["webgl", "wasm", "cpu"]


@pytest.mark.parametrize("requested", [None, "", "   ", "webgpu", "tpu", "gl", "cpu,wasm"])
def test_unknown_or_empty_request_is_ignored(requested: str | None) -> None:
    for probe in (WebGLProbe(True, HARDWARE_RENDERERS[0]), WebGLProbe(True, "SwiftShader"), WebGLProbe(False)):
        assert backend_candidates(requested, probe) == backend_candidates(None, probe)


@pytest.mark.parametrize("requested, first", [("CPU", "cpu"), (" Wasm ", "wasm"), ("WebGL", "webgl"),
                                              ("wAsM\n", "wasm")])
def test_request_is_case_and_space_insensitive(requested: str, first: str) -> None:
    candidates = backend_candidates(requested, WebGLProbe(True, "Google SwiftShader"))
    assert_well_formed(candidates)
    assert names(candidates)[0] == first
    assert sorted(names(candidates)) == sorted(BACKENDS)


def test_renderer_match_is_case_insensitive() -> None:
    assert is_software_renderer("GOOGLE SWIFTSHADER")
    assert is_software_renderer("swiftshader")
    assert not is_software_renderer("NVIDIA GeForce GTX 1060")
