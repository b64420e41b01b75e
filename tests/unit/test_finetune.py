"""Fine-tuning plans: which tail convolutions of a base are trainable, on the real MobileNet topologies and on toys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from teachbox.errors import TeachboxError
from teachbox.model.finetune_plan import FineTunePlan, LayerInfo, TailBlock, plan_fine_tuning
from teachbox.model.topology import layer_infos

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
V1_JSON = SHARED / "models" / "mobilenet_v1_0.25_224" / "model.json"
V2_JSON = SHARED / "models" / "mobilenet_v2_0.35_224_no_top" / "model.json"
V1_CUT = "conv_pw_13_relu"


@pytest.fixture(scope="module")
def v1_layers() -> list[LayerInfo]:
    if not V1_JSON.is_file():
        pytest.skip("../shared/models/mobilenet_v1_0.25_224 is not beside this checkout")
    layers = layer_infos(json.loads(V1_JSON.read_text())["modelTopology"])
    cut = [layer.name for layer in layers].index(V1_CUT)
    return layers[:cut + 1]  # the base as Teachbox uses it: everything after the cut is dropped


@pytest.fixture(scope="module")
def v2_layers() -> list[LayerInfo]:
    if not V2_JSON.is_file():
        pytest.skip("../shared/models/mobilenet_v2_0.35_224_no_top is not beside this checkout")
    return layer_infos(json.loads(V2_JSON.read_text())["modelTopology"])


def _refusal(layers: list[LayerInfo], k: int) -> TeachboxError:
    with pytest.raises(TeachboxError) as caught:
        plan_fine_tuning(layers, k)
    assert caught.value.code == "bad_option"
    return caught.value


# --- the real bases ---------------------------------------------------------------------------------------------


def test_v1_cut_ends_at_the_cut_layer(v1_layers: list[LayerInfo]) -> None:
    assert v1_layers[-1].name == V1_CUT
    assert v1_layers[0].class_name == "InputLayer"


def test_v1_one_layer(v1_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v1_layers, 1)
    assert plan == FineTunePlan("conv_dw_13_relu", (TailBlock("conv_pw_13", "conv_pw_13_bn", ("conv_pw_13_relu",)),))


def test_v1_two_layers_are_its_last_depthwise_separable_block(v1_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v1_layers, 2)
    assert plan == FineTunePlan("conv_pw_12_relu", (
        TailBlock("conv_dw_13", "conv_dw_13_bn", ("conv_dw_13_relu",), "depthwise"),
        TailBlock("conv_pw_13", "conv_pw_13_bn", ("conv_pw_13_relu",), "pointwise")))


def test_v1_three_layers_reach_the_strided_depthwise(v1_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v1_layers, 3)
    assert plan.split == "conv_dw_12_relu"
    assert [block.kind for block in plan.blocks] == ["pointwise", "depthwise", "pointwise"]


def test_v1_four_layers_is_refused_with_the_maximum(v1_layers: list[LayerInfo]) -> None:
    error = _refusal(v1_layers, 4)
    assert error.details == {"max": 3}
    assert "at most 3" in error.message and "strided" in error.message


def test_v2_two_layers(v2_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v2_layers, 2)
    assert plan.split == "block_16_depthwise_relu"
    assert plan.blocks == (TailBlock("block_16_project", "block_16_project_BN", ()),
                           TailBlock("Conv_1", "Conv_1_bn", ("out_relu",)))


def test_v2_one_layer(v2_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v2_layers, 1)
    assert plan == FineTunePlan("block_16_project_BN", (TailBlock("Conv_1", "Conv_1_bn", ("out_relu",)),))


def test_v2_four_layers_are_its_last_inverted_residual_block(v2_layers: list[LayerInfo]) -> None:
    plan = plan_fine_tuning(v2_layers, 4)
    assert plan.split == "block_15_add"
    assert [(block.conv, block.kind) for block in plan.blocks] == [
        ("block_16_expand", "pointwise"), ("block_16_depthwise", "depthwise"), ("block_16_project", "pointwise"),
        ("Conv_1", "pointwise")]


def test_v2_five_layers_is_refused(v2_layers: list[LayerInfo]) -> None:
    assert _refusal(v2_layers, 5).details == {"max": 4}


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_refused(v1_layers: list[LayerInfo], k: int) -> None:
    assert "fineTuneLayers" in _refusal(v1_layers, k).message


# --- synthetic graphs ---------------------------------------------------------------------------------------------


def _conv(name: str, src: str, kernel: int = 1, stride: int = 1) -> LayerInfo:
    return LayerInfo(name, "Conv2D", (src,), {"kernel_size": [kernel, kernel], "strides": [stride, stride]})


def _bn(name: str, src: str) -> LayerInfo:
    return LayerInfo(name, "BatchNormalization", (src,))


def _relu(name: str, src: str, cls: str = "ReLU") -> LayerInfo:
    return LayerInfo(name, cls, (src,))


def _tail(first_src: str) -> list[LayerInfo]:
    """Two pointwise blocks: c1 → b1 → r1 → c2 → b2 → r2 (the output)."""
    return [_conv("c1", first_src), _bn("b1", "c1"), _relu("r1", "b1"),
            _conv("c2", "r1"), _bn("b2", "c2"), _relu("r2", "b2", "Activation")]


def test_synthetic_straight_chain() -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3), *_tail("stem")]
    plan = plan_fine_tuning(layers, 2)
    assert plan == FineTunePlan("stem", (TailBlock("c1", "b1", ("r1",)), TailBlock("c2", "b2", ("r2",))))
    assert _refusal(layers, 3).details == {"max": 2}


def test_several_activations_and_no_norm() -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3), _conv("c", "stem"),
              _relu("a1", "c"), _relu("a2", "a1", "Activation")]
    assert plan_fine_tuning(layers, 1) == FineTunePlan("stem", (TailBlock("c", None, ("a1", "a2")),))


def test_residual_add_stops_the_walk() -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3),
              _conv("p", "stem"), LayerInfo("add", "Add", ("stem", "p")), *_tail("add")]
    plan = plan_fine_tuning(layers, 2)
    assert plan.split == "add"
    error = _refusal(layers, 3)
    assert error.details == {"max": 2}


def test_add_as_output_allows_nothing() -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("a", "in"), _conv("b", "in"),
              LayerInfo("add", "Add", ("a", "b"))]
    assert _refusal(layers, 1).details == {"max": 0}


@pytest.mark.parametrize("kernel,stride", [(3, 1), (1, 2), (3, 2)])
def test_non_pointwise_conv_stops(kernel: int, stride: int) -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3), _conv("c1", "stem", kernel, stride),
              _bn("b1", "c1"), _relu("r1", "b1"), _conv("c2", "r1"), _bn("b2", "c2"), _relu("r2", "b2")]
    assert plan_fine_tuning(layers, 1).split == "r1"
    assert _refusal(layers, 2).details == {"max": 1}


def test_depthwise_and_grouped_convs_are_not_pointwise() -> None:
    assert not LayerInfo("d", "DepthwiseConv2D", ("x",), {"kernel_size": [1, 1], "strides": [1, 1]}).pointwise
    assert not LayerInfo("g", "Conv2D", ("x",), {"kernel_size": [1, 1], "strides": [1, 1], "groups": 4}).pointwise
    assert LayerInfo("p", "Conv2D", ("x",), {"kernel_size": (1, 1), "strides": (1, 1), "groups": 1}).pointwise


def test_chain_that_starts_at_the_input_raises() -> None:
    # Every layer is pointwise down to the very first one, which has no input: there is no frozen part to split at.
    layers = _tail("nowhere")
    layers[0] = LayerInfo("c1", "Conv2D", (), {"kernel_size": [1, 1], "strides": [1, 1]})
    _refusal(layers, 2)
    _refusal(layers, 3)
    # one block still has a split layer (r1) below it
    assert plan_fine_tuning(layers, 1).split == "r1"


def test_input_layer_below_the_blocks_is_the_split() -> None:
    # With an InputLayer the walk stops there: the "frozen part" is the image itself.
    layers = [LayerInfo("in", "InputLayer", ()), *_tail("in")]
    assert plan_fine_tuning(layers, 2).split == "in"
    assert _refusal(layers, 3).details == {"max": 2}


def test_branching_inside_the_chain_stops() -> None:
    # A layer with two inputs between conv and norm (not a straight chain) ends the walk there.
    layers = [LayerInfo("in", "InputLayer", ()), _conv("c1", "in"),
              LayerInfo("b1", "BatchNormalization", ("c1", "in")), _relu("r1", "b1")]
    assert _refusal(layers, 1).details == {"max": 0}


def test_refusal_when_chain_starts_at_the_input_names_a_maximum_that_works() -> None:
    layers = _tail("nowhere")
    layers[0] = LayerInfo("c1", "Conv2D", (), {"kernel_size": [1, 1], "strides": [1, 1]})
    maximum = _refusal(layers, 2).details["max"]
    plan_fine_tuning(layers, maximum)  # the maximum the error names must itself be plannable
    assert maximum == 1


def _depthwise(name: str, src: str, kernel: int = 3, stride: int = 1, padding: str = "same",
               multiplier: int = 1) -> LayerInfo:
    return LayerInfo(name, "DepthwiseConv2D", (src,), {"kernel_size": [kernel, kernel], "strides": [stride, stride],
                                                       "padding": padding, "depth_multiplier": multiplier,
                                                       "dilation_rate": [1, 1]})


def test_a_same_padded_stride_one_depthwise_conv_is_trainable() -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3), _depthwise("d", "stem"),
              _bn("db", "d"), _relu("dr", "db"), *_tail("dr")]
    plan = plan_fine_tuning(layers, 3)
    assert plan == FineTunePlan("stem", (TailBlock("d", "db", ("dr",), "depthwise"), TailBlock("c1", "b1", ("r1",)),
                                         TailBlock("c2", "b2", ("r2",))))


@pytest.mark.parametrize("changes", [{"stride": 2}, {"padding": "valid"}, {"kernel": 2}, {"multiplier": 2}])
def test_other_depthwise_convs_stop_the_walk(changes: dict) -> None:
    layers = [LayerInfo("in", "InputLayer", ()), _conv("stem", "in", kernel=3), _depthwise("d", "stem", **changes),
              _bn("db", "d"), _relu("dr", "db"), *_tail("dr")]
    assert plan_fine_tuning(layers, 2).split == "dr"
    assert _refusal(layers, 3).details == {"max": 2}
