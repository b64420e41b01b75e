"""Images in the page → model input tensors, with the one preprocessing (see preprocess.py).

Accepts what a person or a script has at hand: a URL, a Blob/File, an <img>, <canvas>, <video> or ImageBitmap.
Files are sniffed before decoding (imageinfo.py) so broken, non-image and oversized files fail with a clear message.
"""

from __future__ import annotations

from typing import Any

from . import jsbridge
from .errors import TeachboxError
from .imageinfo import HEADER_BYTES, JPEG_HEADER_BYTES, sniff
from .preprocess import Preprocessing, crop_box

BLOB_TYPES = ("Blob", "File")
PIXEL_TYPES = ("HTMLImageElement", "HTMLCanvasElement", "HTMLVideoElement", "ImageBitmap", "OffscreenCanvas",
               "ImageData")


def describe(source: Any) -> str:
    """How a source is named in messages: the URL, the file name, or its kind."""
    if isinstance(source, str):
        return source
    name = getattr(source, "name", None)
    return str(name) if name and not jsbridge.is_nullish(name) else jsbridge.js_type(source)


async def decode(source: Any) -> Any:
    """A decoded, pixel-readable object for any supported source; the caller closes ImageBitmaps it gets."""
    if isinstance(source, str):
        response = await jsbridge.fetch(source)
        return await decode_blob(await response.blob(), source)
    kind = jsbridge.js_type(source)
    if kind in BLOB_TYPES:
        return await decode_blob(source, describe(source))
    if kind in PIXEL_TYPES:
        return source
    raise TeachboxError("bad_source", f"Cannot read an image from a {kind}; give a URL, File, Blob, <img>, "
                                      "<canvas> or <video>.")


async def decode_blob(blob: Any, name: str) -> Any:
    """Sniff, then decode (downscaled while decoding when huge); undecodable data becomes a clear error."""
    info = sniff(await jsbridge.blob_bytes(blob, HEADER_BYTES), name)
    if info.format == "jpeg" and info.width is None and int(blob.size) > HEADER_BYTES:
        info = sniff(await jsbridge.blob_bytes(blob, JPEG_HEADER_BYTES), name)
    try:
        return await jsbridge.decode_bitmap(blob, info.decode_size())
    except jsbridge.JsException as error:
        raise TeachboxError("undecodable", f"{name} could not be decoded as a {info.format.upper()} image; "
                                           "the file is probably truncated or corrupt.") from error


def pixel_size(image: Any) -> tuple[int, int]:
    """Width and height of any decoded source (a <video> reports its frame size, an <img> its natural size)."""
    kind = jsbridge.js_type(image)
    if kind == "HTMLVideoElement":
        return int(image.videoWidth), int(image.videoHeight)
    if kind == "HTMLImageElement":
        return int(image.naturalWidth), int(image.naturalHeight)
    return int(image.width), int(image.height)


def to_input(image: Any, preprocessing: Preprocessing) -> Any:
    """[1, size, size, 3] float32 tensor in [-1, 1]: crop box + bilinear resize in one cropAndResize, then scale."""
    width, height = pixel_size(image)
    return jsbridge.image_input(image, crop_box(width, height, preprocessing.mode), preprocessing.size)


async def load_input(source: Any, preprocessing: Preprocessing) -> Any:
    """Decode a source and return its input tensor (the caller disposes it); decoded bitmaps are closed."""
    image = await decode(source)
    try:
        return to_input(image, preprocessing)
    finally:
        if jsbridge.js_type(image) == "ImageBitmap" and image is not source:
            image.close()
