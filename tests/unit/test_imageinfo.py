"""Header sniffing on real files written by Pillow and on the shared datasets; refusals carry precise codes."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from teachbox.errors import TeachboxError
from teachbox.data.image_header import DOWNSCALE_TO, HEADER_BYTES, JPEG_HEADER_BYTES, ImageInfo, sniff

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def head(path: Path) -> bytes:
    """What the page reads before decoding: the first HEADER_BYTES of the file, and JPEG_HEADER_BYTES for a JPEG
    whose size marker the first read missed (imaging.decode_blob)."""
    with path.open("rb") as handle:
        data = handle.read(HEADER_BYTES)
    if sniff(data) == ImageInfo("jpeg", None, None):
        with path.open("rb") as handle:
            data = handle.read(JPEG_HEADER_BYTES)
    return data


def save(tmp_path: Path, name: str, size: tuple[int, int], fmt: str, mode: str = "RGB", **options: object) -> Path:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    path = tmp_path / name
    image.save(path, fmt, **options)
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and a valid IHDR chunk (8-bit RGB) declaring width × height."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def with_app_segments(jpeg: bytes, total: int) -> bytes:
    """The JPEG with APP segments of about `total` bytes inserted right after SOI (like a big EXIF/XMP block)."""
    segments = []
    remaining = total
    while remaining > 0:
        payload = min(remaining, 65533)
        segments.append(b"\xff\xe2" + struct.pack(">H", payload + 2) + b"ICC_PROFILE\x00" + b"\x00" * (payload - 12))
        remaining -= payload
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


@pytest.mark.parametrize("name, fmt, size, mode, options", [
    ("a.png", "PNG", (123, 45), "RGB", {}),
    ("rgba.png", "PNG", (17, 300), "RGBA", {}),
    ("gray.png", "PNG", (64, 64), "L", {}),
    ("a.jpg", "JPEG", (321, 123), "RGB", {"quality": 80}),
    ("prog.jpg", "JPEG", (200, 150), "RGB", {"progressive": True}),
    ("gray.jpg", "JPEG", (40, 90), "L", {}),
    ("a.gif", "GIF", (77, 33), "P", {}),
    ("lossy.webp", "WEBP", (99, 55), "RGB", {"lossless": False}),
    ("lossless.webp", "WEBP", (99, 55), "RGB", {"lossless": True}),
    ("alpha.webp", "WEBP", (1000, 17), "RGBA", {"lossless": False}),  # VP8X container
    ("a.bmp", "BMP", (31, 29), "RGB", {}),
])
def test_pillow_files_sniff_to_their_size(tmp_path: Path, name: str, fmt: str, size: tuple[int, int], mode: str,
                                          options: dict) -> None:
    path = save(tmp_path, name, size, fmt, mode, **options)
    info = sniff(head(path), path.name)
    assert info == ImageInfo({"JPEG": "jpeg"}.get(fmt, fmt.lower()), *size)
    with Image.open(path) as image:
        assert image.size == size
    assert info.decode_size() is None


def test_webp_with_exif_is_a_vp8x_container(tmp_path: Path) -> None:
    path = tmp_path / "exif.webp"
    exif = Image.Exif()
    exif[0x010F] = "Teachbox test camera"
    Image.new("RGB", (4097, 9)).save(path, "WEBP", exif=exif)
    assert path.read_bytes()[12:16] == b"VP8X"
    info = sniff(head(path))
    assert (info.format, info.width, info.height) == ("webp", 4097, 9)
    assert info.decode_size() == (2048, 4)


def test_jpeg_with_exif_and_large_app_segments(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Teachbox test camera"
    exif[0x9286] = "x" * 60_000  # UserComment: a ~60 KB APP1 segment
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "navy").save(buffer, "JPEG", exif=exif)
    data = with_app_segments(buffer.getvalue(), 150_000)  # SOF now sits ~210 KB into the file
    assert data.index(b"\xff\xc0") > 200_000
    path = tmp_path / "big-exif.jpg"
    path.write_bytes(data)
    with Image.open(path) as image:
        assert image.size == (640, 480)
        assert len(image.info["exif"]) > 60_000
    assert sniff(head(path)) == ImageInfo("jpeg", 640, 480)


def test_jpeg_size_beyond_the_header_is_left_to_the_decoder(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buffer, "JPEG")
    data = with_app_segments(buffer.getvalue(), JPEG_HEADER_BYTES + 10_000)
    info = sniff(data[:JPEG_HEADER_BYTES])
    assert info == ImageInfo("jpeg", None, None)
    assert info.decode_size() is None
    assert sniff(data) == ImageInfo("jpeg", 64, 48)  # the whole file does have the size


def test_top_down_bmp_has_positive_height(tmp_path: Path) -> None:
    path = save(tmp_path, "a.bmp", (31, 29), "BMP")
    data = bytearray(path.read_bytes())
    data[22:26] = struct.pack("<i", -29)  # a top-down bitmap stores its height negated
    assert sniff(bytes(data)) == ImageInfo("bmp", 31, 29)


def test_empty_file() -> None:
    with pytest.raises(TeachboxError) as caught:
        sniff(b"", "holiday.jpg")
    assert caught.value.code == "empty_file"
    assert "holiday.jpg" in caught.value.message and "0 bytes" in caught.value.message


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat.jpg", b"not really")
    return buffer.getvalue()


@pytest.mark.parametrize("data, hint", [
    (b"cat,dog\n1,2\n", "not an image"),
    (b"just some text that is long enough to be a header", "not an image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
    (zip_bytes(), "a zip archive"),
    (b"<!DOCTYPE html>\n<html><body>404</body></html>", "an HTML page"),
    (b"\n  <html lang=en><head>", "an HTML page"),
    (b"<?xml version='1.0'?><svg/>", "an XML/SVG document"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG drawing"),
    (b'{"labels": []}', "JSON text"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "a gzip archive"),
])
def test_non_images_name_what_they_look_like(data: bytes, hint: str) -> None:
    with pytest.raises(TeachboxError) as caught:
        sniff(data, "upload.png")
    assert caught.value.code == "not_an_image"
    assert hint in caught.value.message and "upload.png" in caught.value.message


def test_truncated_png_is_undecodable(tmp_path: Path) -> None:
    path = save(tmp_path, "a.png", (50, 50), "PNG")
    with pytest.raises(TeachboxError) as caught:
        sniff(path.read_bytes()[:10])
    assert caught.value.code == "undecodable"


@pytest.mark.parametrize("data", [b"GIF89a\x10", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16])
def test_other_broken_headers_are_undecodable(data: bytes) -> None:
    with pytest.raises(TeachboxError) as caught:
        sniff(data)
    assert caught.value.code == "undecodable"


def test_zero_sized_image_is_undecodable() -> None:
    with pytest.raises(TeachboxError) as caught:
        sniff(png_header(0, 100))
    assert caught.value.code == "undecodable"


def test_decompression_bomb_is_too_large() -> None:
    with pytest.raises(TeachboxError) as caught:
        sniff(png_header(20000, 20000), "bomb.png")
    assert caught.value.code == "too_large"
    assert "20000×20000" in caught.value.message


def test_huge_photo_is_decoded_downscaled() -> None:
    info = sniff(png_header(8000, 8000))
    assert info == ImageInfo("png", 8000, 8000)
    assert info.decode_size() == (DOWNSCALE_TO, DOWNSCALE_TO) == (2048, 2048)
    assert ImageInfo("png", 8000, 6000).decode_size() == (2048, 1536)
    assert ImageInfo("png", 4096, 4096).decode_size() is None
    assert ImageInfo("avif", None, None).decode_size() is None


def test_avif_is_recognised_without_size() -> None:
    data = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
    assert sniff(data) == ImageInfo("avif", None, None)


def shared_images(folder: str, pattern: str, count: int) -> list[Path]:
    root = SHARED / "datasets" / folder / "images"
    if not root.is_dir():
        pytest.skip(f"{root} is not available")
    return sorted(root.rglob(pattern))[:count]


@pytest.mark.parametrize("folder, pattern", [("malaria", "*.png"), ("cats_vs_dogs", "*.jpg"),
                                             ("rock_paper_scissors", "*.png")])
def test_shared_dataset_images_sniff_to_pillows_size(folder: str, pattern: str) -> None:
    paths = shared_images(folder, pattern, 6)
    assert paths
    for path in paths:
        info = sniff(head(path), path.name)
        with Image.open(path) as image:
            assert (info.width, info.height) == image.size, path
            assert info.format == image.format.lower(), path
