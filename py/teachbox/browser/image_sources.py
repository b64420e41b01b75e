"""What Teachbox knows about image sources in the page: their names in messages, their kinds, their pixel size.

Accepts what a person or a script has at hand: a URL, a Blob/File, an <img>, <canvas>, <video> or ImageBitmap;
data/image_reading.py fetches and decodes them, sniffing bytes first so broken, non-image and oversized files fail
with a clear message.
"""

from __future__ import annotations

from typing import Any

from teachbox.browser.convert import is_nullish, js_type
from teachbox.errors import TeachboxError

PIXEL_TYPES = ("HTMLImageElement", "HTMLCanvasElement", "HTMLVideoElement", "ImageBitmap", "OffscreenCanvas",
               "ImageData")


def describe(source: Any) -> str:
    """How a source is named in messages: the URL, the file name, or its kind."""
    if isinstance(source, str):
        return source
    name = getattr(source, "name", None)
    return str(name) if name and not is_nullish(name) else js_type(source)


def pixel_source(source: Any) -> Any:
    """A source that is already pixels (an <img>, <canvas>, <video>, ImageBitmap, …), or a clear refusal."""
    kind = js_type(source)
    if kind in PIXEL_TYPES:
        return source
    raise TeachboxError("bad_source", f"Cannot read an image from a {kind}; give a URL, File, Blob, <img>, "
                                      "<canvas> or <video>.")


def pixel_size(image: Any) -> tuple[int, int]:
    """Width and height of any decoded source (a <video> reports its frame size, an <img> its natural size)."""
    kind = js_type(image)
    if kind == "HTMLVideoElement":
        return int(image.videoWidth), int(image.videoHeight)
    if kind == "HTMLImageElement":
        return int(image.naturalWidth), int(image.naturalHeight)
    return int(image.width), int(image.height)
