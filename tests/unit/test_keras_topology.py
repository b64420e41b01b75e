"""The Keras 3 → Keras 2 topology rewrite and the preprocess guess, without TensorFlow (pure functions)."""

from __future__ import annotations

import pytest
from teachbox_build.errors import BuildError
from teachbox_build.keras_import import guess_scaling
from teachbox_build.keras_topology import keras2_model, unsupported_layers

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _tensor(name: str) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 8, 8, 4], "dtype": "float32",
                                                          "keras_history": [name, 0, 0]}}


KERAS3 = {
    "name": "tiny", "trainable": True,
    "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "name": "input_layer", "inbound_nodes": [],
         "config": {"batch_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False, "ragged": False,
                    "name": "input_layer", "optional": False}},
        {"module": "keras.layers", "class_name": "Conv2D", "name": "conv", "build_config": {},
         "config": {"name": "conv", "dtype": POLICY, "filters": 4, "kernel_size": [1, 1], "lora_rank": None,
                    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform"}},
         "inbound_nodes": [{"args": (_tensor("input_layer"),), "kwargs": {}}]},
        {"module": "keras.layers", "class_name": "Add", "name": "add", "config": {"name": "add", "dtype": POLICY},
         "inbound_nodes": [{"args": ([_tensor("conv"), _tensor("conv")],), "kwargs": {}}]},
    ],
    "input_layers": ["input_layer", 0, 0], "output_layers": ["add", 0, 0],
}


def test_keras3_functional_becomes_keras2() -> None:
    spec = keras2_model("Functional", KERAS3, lambda kind: {"name", "dtype", "filters", "kernel_size"})
    layers = spec["config"]["layers"]
    assert spec["class_name"] == "Functional"
    assert layers[0] == {"class_name": "InputLayer", "name": "input_layer", "inbound_nodes": [],
                         "config": {"batch_input_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False,
                                    "name": "input_layer"}}
    assert layers[1]["config"] == {"name": "conv", "dtype": "float32", "filters": 4, "kernel_size": [1, 1]}
    assert layers[1]["inbound_nodes"] == [[["input_layer", 0, 0, {}]]]
    assert layers[2]["inbound_nodes"] == [[["conv", 0, 0, {}], ["conv", 0, 0, {}]]]
    assert (spec["config"]["input_layers"], spec["config"]["output_layers"]) == ([["input_layer", 0, 0]],
                                                                                  [["add", 0, 0]])


def test_mixed_precision_and_subclassed_models_are_refused() -> None:
    half = {**KERAS3, "layers": [KERAS3["layers"][0], {**KERAS3["layers"][1], "config": {
        **KERAS3["layers"][1]["config"], "dtype": {**POLICY, "config": {"name": "mixed_float16"}}}}]}
    with pytest.raises(BuildError, match="layer conv computes in mixed_float16: TF.js runs float32 models only"):
        keras2_model("Functional", half, lambda kind: None)
    with pytest.raises(BuildError, match="model class 'MyModel' cannot be converted"):
        keras2_model("MyModel", KERAS3, lambda kind: None)


def test_unsupported_layers_are_named_with_their_class() -> None:
    assert unsupported_layers([("c", "Conv2D"), ("flip", "RandomFlip"), ("l", "Lambda")]) == \
        ["flip (RandomFlip)", "l (Lambda)"]


@pytest.mark.parametrize("name, scaling", [("vgg16", "caffe"), ("resnet50", "caffe"), ("resnet50v2", "tf"),
                                           ("ResNet50V2", "tf"), ("mobilenetv2_1.00_224", "tf"),
                                           ("densenet121", "torch"), ("efficientnetb0", "none"), ("my_net", None)])
def test_scaling_is_read_from_keras_applications_names(name: str, scaling: str | None) -> None:
    assert guess_scaling(name) == scaling
