"""Thumbnails drawn into <canvas> elements from a sample's source (a same-origin URL or a File/Blob).

Why canvas and not <img src=blob:…>: the page's Content-Security-Policy allows images from 'self' only, and blob:
URLs are not 'self'. A canvas needs no URL at all, so there is nothing to revoke and nothing to loosen in the policy.
It is also lighter: the image is decoded straight at thumbnail size (createImageBitmap with resize), using the
size read from the file header (image_header.sniff), so a page of 24 twelve-megapixel photos never holds 24 full
decodes. The bitmap is closed as soon as it is drawn.
"""

from __future__ import annotations

from typing import Any

from teachbox.browser import environment, net
from teachbox.browser.convert import blob_bytes
from teachbox.data.image_header import HEADER_BYTES, sniff
from teachbox.ui import dom

THUMB_PX = 88  # CSS pixels; drawn at 2× for sharp high-DPI screens


def canvas(name: str, size: int = THUMB_PX) -> Any:
    """An empty thumbnail canvas named for assistive technology (its file name)."""
    node = dom.el("canvas", cls="thumb", role="img", aria_label=name)
    node.width = node.height = size * 2
    return node


async def blob_of(source: Any) -> Any:
    """The Blob behind a sample source (URLs are same-origin files listed by a CSV)."""
    if isinstance(source, str):
        return await net.fetch_blob(environment.page_url(source))
    return source


async def draw(target: Any, source: Any) -> bool:
    """Draw `source` centre-cropped to fill `target`; on any failure draw a neutral placeholder. True if drawn."""
    size = int(target.width)
    try:
        blob = await blob_of(source)
        info = sniff(await blob_bytes(blob, HEADER_BYTES), "thumbnail")
        options = {"resizeQuality": "medium"}
        if info.width and info.height:
            scale = size / min(info.width, info.height)
            if scale < 1:
                options |= {"resizeWidth": max(1, round(info.width * scale)),
                            "resizeHeight": max(1, round(info.height * scale))}
        bitmap = await dom.decode_bitmap(blob, options)
    except Exception:  # noqa: BLE001 - a thumbnail that cannot be drawn must not break the list
        placeholder(target)
        return False
    try:
        width, height = int(bitmap.width), int(bitmap.height)
        side = min(width, height)
        context = target.getContext("2d")
        context.clearRect(0, 0, size, size)
        context.drawImage(bitmap, (width - side) / 2, (height - side) / 2, side, side, 0, 0, size, size)
    finally:
        bitmap.close()
    return True


def placeholder(target: Any) -> None:
    """A grey square with a question mark: the image exists in the project but cannot be shown."""
    size = int(target.width)
    context = target.getContext("2d")
    context.fillStyle = "#e4e7ee"
    context.fillRect(0, 0, size, size)
    context.fillStyle = "#5b6476"
    context.font = f"{size // 3}px system-ui, sans-serif"
    context.textAlign = "center"
    context.textBaseline = "middle"
    context.fillText("?", size / 2, size / 2)
