"""The one image preprocessing Teachbox uses everywhere (training, evaluation, prediction, export metadata).

Geometry is pure Python so it is unit-tested here and recorded in a model's metadata; the pixels themselves go
through TF.js `image.cropAndResize` (bilinear) in the page, so every path shares one resampling implementation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from teachbox.errors import TeachboxError

CROP_MODES = ("center-crop", "squash", "pad")
# The whole image, centred on a black square: on the malaria cells the centre crop cut off the rim of every elongated
# cell, where parasites often are, and cost 1.7 points on unseen patients; on photos the two measured the same
# (docs/accuracy.md, run 9). Older models name their mode in metadata.json.
DEFAULT_CROP = "pad"
# How RGB pixels in [0, 255] are scaled for a base: Keras' preprocess_input modes (keras.applications.imagenet_utils),
# so a Keras model brought to the site gets the inputs it was trained on. MobileNets use "tf"; VGG16 and ResNet50
# "caffe"; DenseNet "torch"; EfficientNet and ConvNeXt scale inside the model ("none"). Kernels: site/kernels.js.
SCALINGS = {
    "tf": "x / 127.5 - 1",
    "torch": "(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]",
    "caffe": "BGR, x - [103.939, 116.779, 123.68]",
    "none": "x",
}
INPUT_SIZE = 224  # the bases' native resolution, and the size whenever the images are at least this big
# The input sizes MobileNets are published for. A fully convolutional base runs at any of them with the same weights,
# its cost falling with the square of the side: 128 px costs a third of 224 px.
INPUT_SIZES = (128, 160, 192, 224)
MIN_SIDE = 8
# TF.js computes sample positions in float32 and treats a position a hair past the last pixel centre as outside
# (extrapolated black). Ending every box 1/256 pixel inside the last centre keeps the edge row/column real.
EDGE_INSET = 1 / 256


@dataclass(frozen=True)
class Preprocessing:
    """How pixels become the base model's input; stored with every exported model."""

    mode: str = DEFAULT_CROP
    size: int = INPUT_SIZE
    resize: str = "bilinear"
    color: str = "RGB"
    scaling: str = "tf"

    def __post_init__(self) -> None:
        if self.mode not in CROP_MODES:
            raise TeachboxError("bad_option", f"Unknown crop mode {self.mode!r}; use one of {', '.join(CROP_MODES)}.")
        if self.scaling not in SCALINGS:
            raise TeachboxError("bad_option", f"Unknown pixel scaling {self.scaling!r}; use one of "
                                              f"{', '.join(SCALINGS)}.")

    def to_json(self) -> dict:
        """The metadata form: the fields, and `scale` spelling the scaling out for a person reading the file."""
        return {**asdict(self), "scale": SCALINGS[self.scaling]}


def crop_box(width: int, height: int, mode: str = DEFAULT_CROP) -> tuple[float, float, float, float]:
    """The [y1, x1, y2, x2] box, in cropAndResize's normalised coordinates, that yields a square input.

    cropAndResize maps a normalised coordinate c to the pixel centre c * (side - 1), so a crop covering pixel centres
    o .. o + s - 1 is (o / (side - 1), (o + s - 1) / (side - 1)). `pad` uses a box larger than the image; cropAndResize
    fills outside with 0 (black).
    """
    if width < MIN_SIDE or height < MIN_SIDE:
        raise TeachboxError("too_small", f"The image is {width}×{height} pixels; images need at least "
                                         f"{MIN_SIDE}×{MIN_SIDE}.")
    if mode not in CROP_MODES:
        raise TeachboxError("bad_option", f"Unknown crop mode {mode!r}; use one of {', '.join(CROP_MODES)}.")
    if mode == "squash":
        x1, x2 = _span(width, width)
        y1, y2 = _span(height, height)
    else:
        side = min(width, height) if mode == "center-crop" else max(width, height)
        x1, x2 = _span(width, side)
        y1, y2 = _span(height, side)
    return (y1, x1, y2, x2)


def _span(extent: int, side: int) -> tuple[float, float]:
    """Normalised start/end of a centred window of `side` pixels over an axis of `extent` pixels."""
    offset = (extent - side) / 2
    return (offset / (extent - 1), (offset + side - 1 - EDGE_INSET) / (extent - 1))


def auto_input_size(short_sides: list[int]) -> int:
    """The input size for images whose shorter sides are `short_sides`: the smallest published size that does not
    shrink the typical (median) image, never above 224.

    Why: upscaling a small cell image to 224 only interpolates, it adds no detail, yet the base then does 3× the
    work; below the image's own size accuracy falls, so the rule never goes below it. Photos and camera frames
    (≥ 224 px) keep 224. With few images upscaling does help, so this is the `inputSize: "auto"` option, not the
    default (measurements in docs/decisions.md).
    """
    if not short_sides:
        return INPUT_SIZE
    ordered = sorted(short_sides)
    median = ordered[len(ordered) // 2]
    return next((size for size in INPUT_SIZES if size >= median), INPUT_SIZE)
