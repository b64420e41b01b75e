"""Recognise an image file and read its size from its first bytes, before the browser decodes it.

Knowing width × height up front lets the page refuse decompression bombs and downscale huge photos while decoding
(instead of allocating gigabytes), and turns "not an image" into a precise message instead of a decoder exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from teachbox.errors import TeachboxError

HEADER_BYTES = 16 * 1024  # enough for PNG/GIF/WebP/BMP and most JPEGs; copied into Python for every image
JPEG_HEADER_BYTES = 512 * 1024  # second, larger read when a JPEG's size marker sits behind big EXIF/ICC blocks
MAX_PIXELS = 120_000_000  # beyond this decoding alone needs ~0.5 GB: refuse
DOWNSCALE_ABOVE = 4096  # longer side above this is decoded at DOWNSCALE_TO instead (the model sees 224 px anyway)
DOWNSCALE_TO = 2048

_NOT_IMAGE_HINTS = (
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive"), (b"<!DOCTYPE", "an HTML page"),
    (b"<html", "an HTML page"), (b"<?xml", "an XML/SVG document"), (b"<svg", "an SVG drawing (not supported)"),
    (b"\x1f\x8b", "a gzip archive"), (b"{", "JSON text"),
)


@dataclass(frozen=True)
class ImageInfo:
    """Format and size read from a header; width/height are None where the format hides them (AVIF)."""

    format: str
    width: int | None
    height: int | None

    def decode_size(self) -> tuple[int, int] | None:
        """The size to decode at when the image is too large to decode whole, else None."""
        if self.width is None or self.height is None:
            return None
        longest = max(self.width, self.height)
        if longest <= DOWNSCALE_ABOVE:
            return None
        ratio = DOWNSCALE_TO / longest
        return max(1, round(self.width * ratio)), max(1, round(self.height * ratio))


def sniff(header: bytes, name: str = "the file") -> ImageInfo:
    """Identify PNG, JPEG, GIF, WebP, BMP or AVIF from its first bytes; raise TeachboxError for anything else."""
    if not header:
        raise TeachboxError("empty_file", f"{name} is empty (0 bytes).")
    for reader in (_png, _gif, _bmp, _webp, _avif, _jpeg):
        info = reader(header)
        if info is not None:
            _check_size(info, name)
            return info
    hint = next((what for magic, what in _NOT_IMAGE_HINTS if header.lstrip()[:16].lower().startswith(magic.lower())),
                "not an image")
    raise TeachboxError("not_an_image", f"{name} is not a supported image (PNG, JPEG, GIF, WebP, BMP or AVIF); "
                                        f"it looks like {hint}.")


def _check_size(info: ImageInfo, name: str) -> None:
    if info.width is None or info.height is None:
        return
    if info.width == 0 or info.height == 0:
        raise TeachboxError("undecodable", f"{name} says it is {info.width}×{info.height} pixels: it is broken.")
    if info.width * info.height > MAX_PIXELS:
        raise TeachboxError("too_large", f"{name} is {info.width}×{info.height} pixels, more than the "
                                         f"{MAX_PIXELS // 1_000_000} megapixels Teachbox decodes; resize it first.")


def _png(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise TeachboxError("undecodable", "The PNG file is truncated or corrupt (no IHDR header).")
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("png", width, height)


def _gif(data: bytes) -> ImageInfo | None:
    if not data.startswith((b"GIF87a", b"GIF89a")):
        return None
    if len(data) < 10:
        raise TeachboxError("undecodable", "The GIF file is truncated.")
    width, height = struct.unpack("<HH", data[6:10])
    return ImageInfo("gif", width, height)


def _bmp(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"BM") or len(data) < 26:
        return None
    width, height = struct.unpack("<ii", data[18:26])
    return ImageInfo("bmp", abs(width), abs(height))


def _webp(data: bytes) -> ImageInfo | None:
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        return ImageInfo("webp", int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    raise TeachboxError("undecodable", "The WebP file has an unknown layout.")


def _avif(data: bytes) -> ImageInfo | None:
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return ImageInfo("avif", None, None)
    return None


def _jpeg(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            raise TeachboxError("undecodable", "The JPEG file is corrupt (bad marker).")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return ImageInfo("jpeg", width, height)
        position += 2 + length
    # Size marker lies beyond the header we read (huge EXIF): let the browser decoder decide.
    return ImageInfo("jpeg", None, None)
