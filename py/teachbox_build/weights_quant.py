"""Encoding weights for the output manifest: float32 as is, or quantized the way TF.js 4.22 decodes on load.

tfjs-core's decodeWeights reads an entry's `quantization`: float16 halves the download at ~3 significant digits;
uint8 quarters it with one affine map per tensor (value = q * scale + min). Only float32 weights are quantized, as
int32/bool values would not survive it. The affine map keeps 0.0 exact when a tensor spans it, so that zero weights
(pruned or padded ones) stay zero after decoding.
"""

from __future__ import annotations

import numpy as np

from .errors import BuildError
from .weights_io import DTYPES, Weight

UINT8_LEVELS = 255
FLOAT16_MAX = float(np.finfo(np.float16).max)


def encode(weight: Weight, quantize: str) -> tuple[bytes, dict]:
    """A weight's stored bytes and its manifest entry for the given quantize mode."""
    entry: dict = {"name": weight.name, "shape": list(weight.values.shape), "dtype": weight.dtype}
    if weight.dtype != "float32" or quantize == "none":
        return weight.values.astype(DTYPES[weight.dtype]).tobytes(), entry
    if quantize == "float16" or not _uint8_safe(weight):
        entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        return _to_float16(weight).tobytes(), entry
    quantized, scale, minimum = quantize_uint8(weight.values)
    entry["quantization"] = {"dtype": "uint8", "scale": scale, "min": minimum, "original_dtype": "float32"}
    return quantized.tobytes(), entry


def _uint8_safe(weight: Weight) -> bool:
    """Whether one affine uint8 map per tensor keeps this weight usable.

    Measured on MobileNet v1: quantizing every tensor to uint8 drops the embedding's cosine to the float32 one to
    ~0.85, because per-tensor ranges are far too coarse for batch-norm statistics, biases and depthwise kernels
    (each channel has its own scale). Those hold under 10% of the bytes, so they stay float16; the large dense and
    pointwise kernels, where one range fits, become uint8.
    """
    shape = weight.values.shape
    depthwise = len(shape) == 4 and shape[-1] == 1
    return len(shape) >= 2 and not depthwise and weight.values.size >= 1024


def _to_float16(weight: Weight) -> np.ndarray:
    """float16 storage, refusing values it cannot hold instead of silently turning them into infinity."""
    largest = float(np.abs(weight.values).max(initial=0.0))
    if largest > FLOAT16_MAX:
        raise BuildError(f"weight {weight.name} holds {largest:g}, beyond float16's range (±{FLOAT16_MAX:g}): "
                         "use --quantize uint8 or none")
    return weight.values.astype("<f2")


def quantize_uint8(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Per-tensor affine uint8 codes and their (scale, min), each value decoding to within scale / 2 of itself.

    When the range spans 0, min is nudged to -k * scale for an integer k, so code k decodes to exactly 0.0
    (k * scale + (-k * scale) is exact in the double arithmetic TF.js uses). The nudge moves the covered range by at
    most scale / 2, so clipping at its ends stays within the same bound. Constant tensors get scale 1.0 and decode
    exactly, without dividing by a zero range.
    """
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    if high == low:
        return np.zeros(values.shape, dtype=np.uint8), 1.0, low
    scale = (high - low) / UINT8_LEVELS
    minimum = -round(-low / scale) * scale if low <= 0.0 <= high else low
    codes = np.clip(np.rint((values.astype(np.float64) - minimum) / scale), 0, UINT8_LEVELS)
    return codes.astype(np.uint8), scale, minimum
