"""The fusion planner (teachbox.fusion) on the real MobileNet topologies and on small hand-made ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from teachbox.model.fusion_plan import INPUT, plan_fused
from teachbox.model.topology import earlier_depth, layer_infos

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
V1 = SHARED / "models" / "mobilenet_v1_0.25_224" / "model.json"
V2 = SHARED / "models" / "mobilenet_v2_0.35_224_no_top" / "model.json"


def _topology(path: Path, cut: str | None = None) -> dict[str, Any]:
    """A model.json's topology, optionally cut after layer `cut` (as build.py and useBase({cut}) do)."""
    if not path.is_file():
        pytest.skip(f"{path.parent.name} is not in ../shared")
    topology = json.loads(path.read_text())["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    if cut:
        names = [layer["name"] for layer in config["layers"]]
        config["layers"] = config["layers"][:names.index(cut) + 1]
        config["output_layers"] = [[cut, 0, 0]]
    return topology


def _layer(name: str, kind: str, sources: list[str], **config: Any) -> dict[str, Any]:
    return {"name": name, "class_name": kind, "config": config,
            "inbound_nodes": [[[source, 0, 0, {}] for source in sources]] if sources else []}


def _model(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"class_name": "Model", "config": {"layers": list(layers), "output_layers": [[layers[-1]["name"], 0, 0]]}}


CONV = {"strides": [1, 1], "padding": "same", "activation": "linear", "use_bias": False}
BN = {"axis": -1, "epsilon": 0.001, "center": True, "scale": True}


def test_mobilenet_v1_cut_is_27_fused_convolutions() -> None:
    plan = plan_fused(_topology(V1, "conv_pw_13_relu"))
    assert plan is not None
    assert [step.op for step in plan.steps] == ["conv"] + ["depthwise", "conv"] * 13
    assert all(step.norm and step.activation == "relu6" for step in plan.steps)
    assert plan.fused_layers() == 54  # 27 batch-norms and 27 ReLU6 no longer run as ops of their own
    assert plan.steps[0].inputs == (INPUT,) and plan.steps[0].strides == (2, 2)
    assert plan.output == 26 and all(step.inputs == (i - 1,) for i, step in enumerate(plan.steps) if i)


def test_mobilenet_v2_keeps_residuals_padding_and_linear_projections() -> None:
    plan = plan_fused(_topology(V2))
    assert plan is not None
    ops = [step.op for step in plan.steps]
    assert ops.count("add") == 10 and ops.count("pad") == 5
    assert ops.count("conv") == 35 and ops.count("depthwise") == 17
    projections = [step for step in plan.steps if step.layer.endswith("_project")]
    assert projections and all(step.norm and step.activation == "linear" for step in projections)
    for step in plan.steps:
        assert all(source < index for index, source in ((plan.steps.index(step), s) for s in step.inputs))
        if step.op == "add":  # a residual: the block's input and its projection, both earlier values
            assert len(step.inputs) == 2 and plan.steps[step.inputs[1]].layer.endswith("_project")
    assert plan.steps[plan.output].layer == "Conv_1" and plan.steps[plan.output].activation == "relu6"


def test_a_full_model_with_its_classifier_top_has_no_plan() -> None:
    assert plan_fused(_topology(V1)) is None  # Reshape, Dropout and pooling are not fused ops: run it as it is


def test_batch_norm_is_not_folded_into_a_convolution_whose_output_is_also_used_elsewhere() -> None:
    plan = plan_fused(_model(
        _layer("in", "InputLayer", []),
        _layer("conv", "Conv2D", ["in"], **CONV),
        _layer("bn", "BatchNormalization", ["conv"], **BN),
        _layer("sum", "Add", ["bn", "conv"]),
    ))
    assert plan is None  # the unnormalised output is needed too: folding would change it


def test_activations_fuse_only_when_exactly_relu_or_relu6() -> None:
    def with_activation(layer: dict[str, Any]) -> Any:
        return plan_fused(_model(_layer("in", "InputLayer", []), _layer("conv", "Conv2D", ["in"], **CONV), layer))

    assert with_activation(_layer("act", "ReLU", ["conv"], max_value=6.0)).steps[0].activation == "relu6"
    assert with_activation(_layer("act", "ReLU", ["conv"])).steps[0].activation == "relu"
    assert with_activation(_layer("act", "Activation", ["conv"], activation="relu6")).steps[0].activation == "relu6"
    assert with_activation(_layer("act", "ReLU", ["conv"], max_value=4.0)) is None
    assert with_activation(_layer("act", "ReLU", ["conv"], negative_slope=0.1)) is None
    assert with_activation(_layer("act", "Activation", ["conv"], activation="sigmoid")) is None


def test_unsupported_settings_give_no_plan() -> None:
    base = [_layer("in", "InputLayer", [])]
    assert plan_fused(_model(*base, _layer("c", "Conv2D", ["in"], **{**CONV, "dilation_rate": [2, 2]}))) is None
    assert plan_fused(_model(*base, _layer("c", "Conv2D", ["in"], **{**CONV, "data_format": "channels_first"}))) \
        is None
    assert plan_fused(_model(*base, _layer("d", "DepthwiseConv2D", ["in"], **{**CONV, "depth_multiplier": 2}))) \
        is None
    assert plan_fused(_model(*base, _layer("c", "Conv2D", ["in"], **CONV),
                             _layer("bn", "BatchNormalization", ["c"], **{**BN, "axis": 1}))) is None
    assert plan_fused(_model(*base)) is None  # nothing to run
    assert plan_fused({"config": {"layers": [], "output_layers": []}}) is None


def test_a_trained_classifier_is_base_pooling_and_dense_head() -> None:
    """Teachbox's classifier (trainer._classifier): the cut base → global average pooling → dense(relu) → dropout
    → dense(softmax); dropout is the identity when predicting."""
    topology = _topology(V1, "conv_pw_13_relu")
    config = topology.get("model_config", topology)["config"]
    config["layers"] += [
        _layer("teachbox_pool", "GlobalAveragePooling2D", ["conv_pw_13_relu"], data_format="channels_last"),
        _layer("teachbox_hidden", "Dense", ["teachbox_pool"], activation="relu", use_bias=True),
        _layer("teachbox_dropout", "Dropout", ["teachbox_hidden"], rate=0.5),
        _layer("teachbox_output", "Dense", ["teachbox_dropout"], activation="softmax", use_bias=True),
    ]
    config["output_layers"] = [["teachbox_output", 0, 0]]
    plan = plan_fused(topology)
    assert plan is not None
    assert [step.op for step in plan.steps[-3:]] == ["mean", "dense", "dense"]
    assert [step.activation for step in plan.steps[-2:]] == ["relu", "softmax"]
    assert plan.steps[-1].inputs == (len(plan.steps) - 2,)  # straight from the hidden layer: no dropout op
    assert plan.output == len(plan.steps) - 1


def test_the_earlier_depth_of_each_mobilenet_is_a_step_on_the_path() -> None:
    """`depths: 2` max-pools the first pointwise activation at 1/16 scale too: it must be a value the plan computes
    anyway (a convolution step whose ReLU was fused into it)."""
    for path, cut, earlier, op in ((V1, "conv_pw_13_relu", "conv_pw_6_relu", "conv"),
                                   (V2, None, "block_7_expand_relu", "conv")):
        topology = _topology(path, cut)
        assert earlier_depth(layer_infos(topology)) == earlier
        plan = plan_fused(topology, (earlier,))
        assert plan is not None and len(plan.taps) == 1
        tapped = plan.steps[plan.taps[0]]
        assert tapped.op == op and plan.taps[0] < plan.output
        assert plan.to_json()["taps"] == list(plan.taps)
        assert plan_fused(topology).taps == ()


def test_no_earlier_depth_outside_the_mobilenet_families() -> None:
    tiny = _model(_layer("input", "InputLayer", []), _layer("features", "Conv2D", ["input"], **CONV))
    assert earlier_depth(layer_infos(tiny)) is None
    cut = _topology(V1, "conv_pw_11_relu")  # useBase({cut}) at the 1/16 stage: no deeper stage to add it to
    assert earlier_depth(layer_infos(cut)) is None
    assert earlier_depth(layer_infos(_topology(V1, "conv_pw_12_relu"))) == "conv_pw_6_relu"
    assert plan_fused(tiny, ("nowhere",)) is None, "a tap the model lacks is refused, not silently dropped"


@pytest.mark.parametrize(("early_pool", "op"), [("GlobalMaxPooling2D", "max"), ("GlobalAveragePooling2D", "mean")])
def test_two_depths_pooled_and_concatenated_before_a_dense_head(early_pool: str, op: str) -> None:
    """A classifier of two depths: the earlier map max-pooled as trained today, or average-pooled as models saved
    before `depths: 2` took the mid-scale layer were; both still run as fused ops."""
    plan = plan_fused(_model(
        _layer("input", "InputLayer", []),
        _layer("early", "Conv2D", ["input"], **CONV), _layer("late", "Conv2D", ["early"], **CONV),
        _layer("pool_early", early_pool, ["early"]), _layer("pool_late", "GlobalAveragePooling2D", ["late"]),
        _layer("joined", "Concatenate", ["pool_early", "pool_late"], axis=-1),
        _layer("probs", "Dense", ["joined"], activation="softmax")))
    assert plan is not None
    assert [step.op for step in plan.steps] == ["conv", "conv", op, "mean", "concat", "dense"]
    assert plan.steps[4].inputs == (2, 3) and plan.steps[5].inputs == (4,)
