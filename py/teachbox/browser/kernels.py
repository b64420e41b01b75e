"""The calls into site/kernels.js: the browser work of reading, decoding and running models, one call per batch.

Each Python↔JS call costs Pyodide tens to hundreds of microseconds on the main thread the model needs, so the
per-image browser work (fetch, header bytes, decode, crop + resize, fused ops) runs in kernels.js while Python keeps
every decision.
"""

from __future__ import annotations

import inspect
from typing import Any

import js  # type: ignore[import-not-found]

from teachbox.browser.convert import to_js

Box = tuple[float, float, float, float]


def image_input(image: Any, box: Box, size: int, scaling: str) -> Any:
    """The [1, size, size, 3] model input of one decoded image: crop `box`, bilinear resize, scale (geometry.SCALINGS)."""
    return js.teachboxKernels.toInput(image, to_js(list(box)), size, scaling)


def fused_ops(model: Any, plan: dict) -> Any:
    """{predict(x), dispose()} running `model` as the ops of a fusion_plan.py plan."""
    return js.teachboxKernels.fused(model, to_js(plan))


async def explain(model: Any, image: Any, box: Box, size: int, scaling: str,
                  index: int) -> tuple[list[list[float]], float]:
    """Grad-CAM of class `index` for one image: (the base's last feature map's h × w weights in [0, 1], the peak
    before scaling), from kernels.js."""
    result = (await js.teachboxKernels.explain(model, image, to_js(list(box)), size, scaling, index)).to_py()
    return [[float(v) for v in row] for row in result["map"]], float(result["peak"])


def trainable_depthwise(kernel_size: int, name: str) -> Any:
    """A layer standing in for a depthwise conv in the fine-tuning tail, trainable on every backend (kernels.js)."""
    return js.teachboxKernels.trainableDepthwise(to_js({"kernelSize": kernel_size, "name": name}))


async def classify(model: Any, image: Any, box: Box, size: int, scaling: str,
                   views: tuple[str, ...] = ("id",)) -> list[float]:
    """One image's class probabilities (averaged over `views`) in one call. On WebGL the values are read back
    asynchronously, so kernels.js answers a Promise there and an array on wasm/cpu: both are awaited here."""
    values = js.teachboxKernels.classify(model, image, to_js(list(box)), size, scaling, to_js(list(views)))
    if inspect.isawaitable(values):  # Pyodide hands a returned Promise over as an awaitable future
        values = await values
    return [float(v) for v in values.to_py()]


async def read_all(sources: list[Any], header_bytes: int) -> list[Any]:
    """Each source's Blob (URLs fetched) and first bytes, in one call for a batch."""
    return list(await js.teachboxKernels.readAll(to_js(sources), header_bytes))


async def failed_fetch(url: str) -> str:
    """Why a fetch of `url` that threw failed: "redirected" (a redirect the page could not follow) or "network"."""
    return str(await js.teachboxKernels.failedFetch(url))


async def decode_all(blobs: list[Any], sizes: list[tuple[int, int] | None]) -> list[Any]:
    """ImageBitmaps (downscaled while decoding where a size is given), off the main thread, in one call."""
    return list(await js.teachboxKernels.decodeAll(to_js(blobs), to_js([list(s) if s else None for s in sizes])))


async def input_batch(images: list[Any], boxes: list[Box], size: int, scaling: str) -> Any:
    """One [N, size, size, 3] model input from images and their crop boxes (the images are closed)."""
    return await js.teachboxKernels.batch(to_js(images), to_js([list(box) for box in boxes]), size, scaling)
