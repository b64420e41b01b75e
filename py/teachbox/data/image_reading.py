"""Image sources → decoded images and model inputs: a whole batch with three JS calls, one image with two.

Why batches: reading, sniffing, decoding and cropping one image at a time from Python took about ten Python↔JS
calls and awaited promises per image, each costing Pyodide tens to hundreds of microseconds on the main thread that
the model needs. The browser work runs in site/kernels.js (fetch + header bytes, decode, crop + resize + concat) and
Python keeps every decision: the sniffing and size limits (image_header.py), the decode size for huge images, the crop
box (geometry.py) and every error message. Training data, evaluation, prediction and embed() all read images here,
so there is one way an image is read. Sources that are not bytes (an <img>, <canvas>, <video>, ImageBitmap) are
used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teachbox.browser import image_sources, kernels, net, tfjs
from teachbox.browser.convert import blob_bytes, is_nullish, js_type
from teachbox.data.geometry import Preprocessing, crop_box
from teachbox.data.image_header import HEADER_BYTES, JPEG_HEADER_BYTES, ImageInfo, sniff
from teachbox.data.project import Sample
from teachbox.errors import TeachboxError

BLOB_TYPES = ("Blob", "File")
SIZE_PROBE = 16  # images whose headers choose the input size for inputSize "auto" (preprocess.auto_input_size)


@dataclass
class ChunkInputs:
    """The inputs of a chunk: `batch` holds one row per sample of `kept`, in order; the others failed."""

    batch: Any = None
    kept: list[Sample] = field(default_factory=list)
    failures: dict[str, TeachboxError] = field(default_factory=dict)

    def dispose(self) -> None:
        if self.batch is not None:
            self.batch.dispose()
            self.batch = None


def described(sample: Sample) -> str:
    """How messages name a sample: a CSV row (it has a line) by its URL, anything else as imaging names it."""
    return sample.uid if sample.line is not None else image_sources.describe(sample.source)


async def prepare_chunk(chunk: list[Sample], preprocessing: Preprocessing) -> ChunkInputs:
    """Read, check, decode and crop a chunk. A URL's fetched Blob replaces its sample's source (so saving the project
    needs no second fetch). Nothing raises for one bad image: it lands in `failures`."""
    out = ChunkInputs()
    reads = await kernels.read_all([sample.source for sample in chunk], HEADER_BYTES)
    blobs, infos, waiting, pixels = [], [], [], []
    for sample, read in zip(chunk, reads):
        try:
            blob, info = await checked_bytes(sample, read)
        except TeachboxError as error:
            out.failures[sample.uid] = error
            continue
        if blob is None:
            pixels.append(sample)
            continue
        blobs.append(blob)
        infos.append(info)
        waiting.append(sample)
    images, boxes = [], []
    decoded = await kernels.decode_all(blobs, [info.decode_size() for info in infos]) if blobs else []
    for sample, info, result in zip(waiting, infos, decoded):
        if is_nullish(result.bitmap):
            out.failures[sample.uid] = _undecodable(sample, info)
            continue
        try:
            boxes.append(crop_box(int(result.bitmap.width), int(result.bitmap.height), preprocessing.mode))
        except TeachboxError as error:
            result.bitmap.close()
            out.failures[sample.uid] = error
            continue
        images.append(result.bitmap)
        out.kept.append(sample)
    parts = [await kernels.input_batch(images, boxes, preprocessing.size, preprocessing.scaling)] if images else []
    for sample in pixels:
        try:
            parts.append(to_input(image_sources.pixel_source(sample.source), preprocessing))
            out.kept.append(sample)
        except TeachboxError as error:
            out.failures[sample.uid] = error
        except Exception as error:  # noqa: BLE001 - any browser failure is this image's problem, not the chunk's
            out.failures[sample.uid] = TeachboxError("undecodable", f"{sample.name} could not be read: {error}")
    if len(parts) == 1:
        out.batch = parts[0]
    elif parts:
        out.batch = tfjs.tidy(lambda: tfjs.concat(parts))
        for part in parts:
            part.dispose()
    return out


async def checked_bytes(sample: Sample, read: Any) -> tuple[Any, ImageInfo | None]:
    """(Blob, what its header says) for bytes that may be an image; (None, None) for a pixel source; else raises."""
    kind = str(read.kind)
    if kind == "pixels":
        return None, None
    if kind == "http":
        raise net.http_error(str(sample.source), int(read.status), str(read.statusText))
    if kind in ("redirected", "network"):
        raise net.failed_fetch_error(str(sample.source), kind, str(read.message))
    if kind == "unreadable":
        raise TeachboxError("undecodable", f"{sample.name} could not be read: {read.message}")
    blob = read.blob
    if isinstance(sample.source, str):
        sample.source = blob
    name = described(sample)
    info = sniff(read.header.to_bytes(), name)
    if info.format == "jpeg" and info.width is None and int(blob.size) > HEADER_BYTES:
        # The size marker sits behind a large EXIF/ICC block: read further.
        info = sniff(await blob_bytes(blob, JPEG_HEADER_BYTES), name)
    return blob, info


async def decode_one(source: Any) -> Any:
    """One source decoded: an ImageBitmap (the caller closes it) or the pixel source itself. Raises TeachboxError
    with the same checks and messages as a batch."""
    if not isinstance(source, str) and js_type(source) not in BLOB_TYPES:
        return image_sources.pixel_source(source)  # no await: a webcam loop calls this for every frame
    sample = Sample("", source, image_sources.describe(source))
    [read] = await kernels.read_all([source], HEADER_BYTES)
    blob, info = await checked_bytes(sample, read)
    [result] = await kernels.decode_all([blob], [info.decode_size()])
    if is_nullish(result.bitmap):
        raise _undecodable(sample, info)
    return result.bitmap


async def load_input(source: Any, preprocessing: Preprocessing) -> Any:
    """One source's [1, size, size, 3] model input (the caller disposes it); a decoded bitmap is closed."""
    image = await decode_one(source)
    try:
        return to_input(image, preprocessing)
    finally:
        if image is not source:
            image.close()


async def short_sides(samples: list[Sample]) -> list[int]:
    """The shorter side of each of the first SIZE_PROBE samples whose header tells it (one JS call); what cannot be
    read is left out here and reported when it is embedded. A URL's Blob replaces its source, as when embedding."""
    probe = samples[:SIZE_PROBE]
    sides = []
    for sample, read in zip(probe, await kernels.read_all([s.source for s in probe], HEADER_BYTES)):
        try:
            blob, info = await checked_bytes(sample, read)
            width, height = (info.width, info.height) if blob is not None else image_sources.pixel_size(sample.source)
        except Exception:  # noqa: BLE001 - reported by the embedding that follows
            continue
        if width and height:
            sides.append(min(width, height))
    return sides


def to_input(image: Any, preprocessing: Preprocessing) -> Any:
    """[1, size, size, 3] float32 tensor: crop box + bilinear resize in one cropAndResize, then the base's scaling."""
    width, height = image_sources.pixel_size(image)
    return kernels.image_input(image, crop_box(width, height, preprocessing.mode), preprocessing.size,
                               preprocessing.scaling)


def _undecodable(sample: Sample, info: ImageInfo) -> TeachboxError:
    return TeachboxError("undecodable", f"{described(sample)} could not be decoded as a {info.format.upper()} image; "
                                        "the file is probably truncated or corrupt.")
