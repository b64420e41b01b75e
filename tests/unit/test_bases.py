"""bases.json as the page reads it: parsing, content-addressed cache keys, stale copies, and plain errors."""

from __future__ import annotations

import copy

import pytest
from teachbox.model.base_catalog import CACHE_PREFIX, BaseCatalog, BaseSpec, parse_catalog
from teachbox.errors import TeachboxError

MANIFEST = {
    "default": "mobilenet_v1_0.25_224",
    "bases": [
        {"id": "mobilenet_v1_0.25_224", "modelJson": "model.5a749b54713c.json", "hash": "5a749b54713c",
         "cutLayer": "conv_pw_13_relu", "featureShape": [7, 7, 256], "featureDim": 256, "inputShape": [224, 224, 3],
         "quantize": "float16", "weightBytes": 437088, "shards": 1, "label": "MobileNet v1 α=0.25",
         "url": "models/mobilenet_v1_0.25_224/model.5a749b54713c.json"},
        {"id": "mobilenet_v2_0.35_224_no_top", "modelJson": "model.a845d5016219.json", "hash": "a845d5016219",
         "cutLayer": "out_relu", "featureShape": [7, 7, 1280], "featureDim": 1280, "inputShape": [192, 192, 3],
         "quantize": "none", "weightBytes": 926000, "preprocess": "caffe",
         "url": "models/mobilenet_v2_0.35_224_no_top/model.a845d5016219.json"},
    ],
}


def test_parse_catalog_reads_every_field() -> None:
    catalog = parse_catalog(MANIFEST)
    assert isinstance(catalog, BaseCatalog)
    assert catalog.default == "mobilenet_v1_0.25_224"
    first, second = catalog.bases
    assert first == BaseSpec(id="mobilenet_v1_0.25_224", label="MobileNet v1 α=0.25",
                             url="models/mobilenet_v1_0.25_224/model.5a749b54713c.json", hash="5a749b54713c",
                             feature_dim=256, cut_layer="conv_pw_13_relu", quantize="float16", weight_bytes=437088,
                             input_size=224)
    assert second.label == second.id  # no label: the id is shown
    assert (second.feature_dim, second.input_size, second.quantize, second.scaling) == (1280, 192, "none", "caffe")
    assert first.to_json() == {"id": "mobilenet_v1_0.25_224", "label": "MobileNet v1 α=0.25", "featureDim": 256,
                               "cutLayer": "conv_pw_13_relu", "quantize": "float16", "weightBytes": 437088,
                               "inputSize": 224, "preprocess": "tf"}


def test_optional_fields_have_defaults() -> None:
    minimal = {"bases": [{"id": "b", "url": "models/b/model.json", "hash": "h1", "featureDim": "64",
                          "cutLayer": "conv"}]}
    catalog = parse_catalog(minimal)
    assert catalog.default == "b"  # no default: the first base
    spec = catalog.get(None)
    assert (spec.label, spec.quantize, spec.weight_bytes, spec.input_size, spec.feature_dim) == ("b", "none", 0, 224, 64)
    assert spec.scaling == "tf"  # bases built before bases.json named a preprocessing are MobileNets


def test_an_unknown_preprocess_is_a_broken_build() -> None:
    broken = {"bases": [{**MANIFEST["bases"][0], "preprocess": "BGR"}]}
    with pytest.raises(TeachboxError) as caught:
        parse_catalog(broken)
    assert caught.value.code == "broken_build" and "'BGR'" in caught.value.message


def test_get_by_id_and_default() -> None:
    catalog = parse_catalog(MANIFEST)
    assert catalog.get(None).id == "mobilenet_v1_0.25_224"
    assert catalog.get("").id == "mobilenet_v1_0.25_224"
    assert catalog.get("mobilenet_v2_0.35_224_no_top").hash == "a845d5016219"


def test_unknown_base_lists_the_known_ones() -> None:
    catalog = parse_catalog(MANIFEST)
    with pytest.raises(TeachboxError) as caught:
        catalog.get("resnet50")
    assert caught.value.code == "unknown_base"
    assert "resnet50" in caught.value.message
    assert "mobilenet_v1_0.25_224" in caught.value.message and "mobilenet_v2_0.35_224_no_top" in caught.value.message


def test_cache_key_is_content_addressed() -> None:
    spec = parse_catalog(MANIFEST).get(None)
    assert spec.cache_key == f"indexeddb://{CACHE_PREFIX}mobilenet_v1_0.25_224-5a749b54713c"
    assert spec.cache_key.startswith("indexeddb://")
    assert "mobilenet_v1_0.25_224" in spec.cache_key and "5a749b54713c" in spec.cache_key
    rebuilt = copy.deepcopy(MANIFEST)
    rebuilt["bases"][0]["hash"] = "000000000000"
    assert parse_catalog(rebuilt).get(None).cache_key != spec.cache_key


def test_stale_returns_only_same_id_other_hash() -> None:
    catalog = parse_catalog(MANIFEST)
    v1 = catalog.get("mobilenet_v1_0.25_224")
    v2 = catalog.get("mobilenet_v2_0.35_224_no_top")
    cached = [
        v1.cache_key,
        f"indexeddb://{CACHE_PREFIX}mobilenet_v1_0.25_224-oldoldoldold",
        f"indexeddb://{CACHE_PREFIX}mobilenet_v1_0.25_224-111111111111",
        v2.cache_key,
        f"indexeddb://{CACHE_PREFIX}mobilenet_v2_0.35_224_no_top-222222222222",
        "indexeddb://my-own-model",
        f"localstorage://{CACHE_PREFIX}mobilenet_v1_0.25_224-333333333333",
    ]
    assert v1.stale(cached) == [cached[1], cached[2]]
    assert v2.stale(cached) == [cached[4]]
    assert v1.stale([]) == [] and v1.stale([v1.cache_key]) == []


def test_stale_does_not_match_an_id_that_merely_shares_a_prefix() -> None:
    short = BaseSpec("mobilenet", "m", "u", "aaa", 8, "c", "none", 0)
    longer = f"indexeddb://{CACHE_PREFIX}mobilenet_v1_0.25_224-bbb"
    # "mobilenet-" is not a prefix of "mobilenet_v1_0.25_224-...", so another base's copy is never deleted.
    assert short.stale([longer, f"indexeddb://{CACHE_PREFIX}mobilenet-old"]) == [
        f"indexeddb://{CACHE_PREFIX}mobilenet-old"]


def broken(mutate) -> dict:
    manifest = copy.deepcopy(MANIFEST)
    mutate(manifest)
    return manifest


@pytest.mark.parametrize("manifest", [
    {},
    {"bases": None},
    {"bases": "mobilenet"},
    {"bases": []},
    {"bases": [None]},
    [],
    broken(lambda m: m["bases"][0].pop("url")),
    broken(lambda m: m["bases"][0].pop("hash")),
    broken(lambda m: m["bases"][1].pop("id")),
    broken(lambda m: m["bases"][0].pop("cutLayer")),
    broken(lambda m: m["bases"][0].update(featureDim="many")),
    broken(lambda m: m["bases"][0].update(featureDim=None)),
    broken(lambda m: m["bases"][0].update(weightBytes="lots")),
    broken(lambda m: m["bases"][0].update(inputShape=[])),
], ids=lambda m: str(m)[:40])
def test_malformed_manifest_is_a_broken_build(manifest: dict) -> None:
    with pytest.raises(TeachboxError) as caught:
        parse_catalog(manifest)
    assert caught.value.code == "broken_build"
    assert "bases.json" in caught.value.message and "build.py" in caught.value.message


def test_classifiers_are_listed_and_an_unknown_one_names_the_known() -> None:
    manifest = {**MANIFEST, "classifiers": [{"id": "flowers", "label": "flowers_mobilenet", "labels": ["a", "b"],
                                             "url": "models/classifiers/flowers/model.0123.zip"}]}
    catalog = parse_catalog(manifest)
    assert catalog.classifier("flowers").url == "models/classifiers/flowers/model.0123.zip"
    assert catalog.classifier("flowers").to_json() == {"id": "flowers", "label": "flowers_mobilenet", "labels": ["a", "b"]}
    assert parse_catalog(MANIFEST).classifiers == ()  # builds without classifiers
    with pytest.raises(TeachboxError) as caught:
        catalog.classifier("cars")
    assert caught.value.code == "unknown_classifier" and "flowers" in caught.value.message


def test_loading_says_how_far_the_base_has_come() -> None:
    spec = BaseSpec("m", "MobileNet v1 α=0.25", "u", "h", 256, "c", "none", 1_900_000)
    assert spec.loading(0.0) == "Loading the base model MobileNet v1 α=0.25: 0.0 of 1.9 MB"
    assert spec.loading(0.63) == "Loading the base model MobileNet v1 α=0.25: 1.2 of 1.9 MB"
    assert spec.loading(None) == "Loading the base model MobileNet v1 α=0.25 from this browser's copy (IndexedDB)…"
