"""What Teachbox knows about image sources in the page: their names in messages, their kinds, their pixel size,
a header's verdict (imageinfo.py) and the crop + resize into a model input (preprocess.py, site/kernels.js).

Accepts what a person or a script has at hand: a URL, a Blob/File, an <img>, <canvas>, <video> or ImageBitmap;
reading.py fetches and decodes them, sniffing bytes first so broken, non-image and oversized files fail with a
clear message.
"""

from __future__ import annotations

from typing import Any

from teachbox import jsbridge
from teachbox.errors import TeachboxError
from teachbox.data.geometry import Preprocessing, crop_box

PIXEL_TYPES = ("HTMLImageElement", "HTMLCanvasElement", "HTMLVideoElement", "ImageBitmap", "OffscreenCanvas",
               "ImageData")


def describe(source: Any) -> str:
    """How a source is named in messages: the URL, the file name, or its kind."""
    if isinstance(source, str):
        return source
    name = getattr(source, "name", None)
    return str(name) if name and not jsbridge.is_nullish(name) else jsbridge.js_type(source)


def pixel_source(source: Any) -> Any:
    """A source that is already pixels (an <img>, <canvas>, <video>, ImageBitmap, …), or a clear refusal."""
    kind = jsbridge.js_type(source)
    if kind in PIXEL_TYPES:
        return source
    raise TeachboxError("bad_source", f"Cannot read an image from a {kind}; give a URL, File, Blob, <img>, "
                                      "<canvas> or <video>.")


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
