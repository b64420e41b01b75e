"""The base models a build ships (dist/models/bases.json), as plain data the page and the tests share."""

from __future__ import annotations

from dataclasses import dataclass

from teachbox.data.geometry import SCALINGS
from teachbox.errors import TeachboxError

CACHE_PREFIX = "teachbox-base-"


@dataclass(frozen=True)
class BaseSpec:
    """One converted base model: where its model.json is and what it produces."""

    id: str
    label: str
    url: str
    hash: str
    feature_dim: int
    cut_layer: str
    quantize: str
    weight_bytes: int
    input_size: int = 224
    scaling: str = "tf"  # how its inputs are scaled (geometry.SCALINGS): bases.json's "preprocess"

    @property
    def cache_key(self) -> str:
        """IndexedDB key: content-addressed, so a rebuilt base with other weights never reuses a stale copy."""
        return f"indexeddb://{CACHE_PREFIX}{self.id}-{self.hash}"

    def stale(self, cached_keys: list[str]) -> list[str]:
        """Cached copies of this base from older builds (same id, other hash): safe to delete."""
        prefix = f"indexeddb://{CACHE_PREFIX}{self.id}-"
        return [key for key in cached_keys if key.startswith(prefix) and key != self.cache_key]

    def loading(self, fraction: float | None) -> str:
        """What the start-up's status line says while this base loads: how far its weights have come over the network
        (TF.js reports the fraction per weight file), or that it comes from this browser's own copy (no bytes to
        count: `fraction` None)."""
        if fraction is None:
            return f"Loading the base model {self.label} from this browser's copy (IndexedDB)…"
        total = self.weight_bytes / 1e6
        return f"Loading the base model {self.label}: {fraction * total:.1f} of {total:.1f} MB"

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "featureDim": self.feature_dim, "cutLayer": self.cut_layer,
                "quantize": self.quantize, "weightBytes": self.weight_bytes, "inputSize": self.input_size, "preprocess": self.scaling}


@dataclass(frozen=True)
class ClassifierSpec:
    """A ready classifier the build ships (build.py --keras-classifier): a model zip the page opens as a project's
    model."""

    id: str
    label: str
    url: str
    labels: tuple[str, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "labels": list(self.labels)}


@dataclass(frozen=True)
class BaseCatalog:
    """All bases of a build, which one is the default, and the ready classifiers it ships."""

    default: str
    bases: tuple[BaseSpec, ...]
    classifiers: tuple[ClassifierSpec, ...] = ()

    def classifier(self, ident: str) -> ClassifierSpec:
        for spec in self.classifiers:
            if spec.id == ident:
                return spec
        known = ", ".join(spec.id for spec in self.classifiers) or "none"
        raise TeachboxError("unknown_classifier", f"There is no classifier {ident!r} in this build; it has: {known}.")

    def get(self, base_id: str | None) -> BaseSpec:
        wanted = base_id or self.default
        for spec in self.bases:
            if spec.id == wanted:
                return spec
        known = ", ".join(spec.id for spec in self.bases)
        raise TeachboxError("unknown_base", f"There is no base model {wanted!r} in this build; it has: {known}.")


def parse_catalog(manifest: dict) -> BaseCatalog:
    """Read bases.json as written by build.py; a malformed manifest is a broken build, said plainly."""
    try:
        specs = tuple(
            BaseSpec(id=entry["id"], label=entry.get("label", entry["id"]), url=entry["url"], hash=entry["hash"],
                     feature_dim=int(entry["featureDim"]), cut_layer=entry["cutLayer"],
                     quantize=entry.get("quantize", "none"), weight_bytes=int(entry.get("weightBytes", 0)),
                     input_size=int(entry.get("inputShape", [224])[0]),
                     scaling=_scaling(entry.get("preprocess", "tf")))
            for entry in manifest["bases"]
        )
        default = manifest.get("default") or specs[0].id
        classifiers = tuple(ClassifierSpec(id=entry["id"], label=entry.get("label", entry["id"]), url=entry["url"],
                                           labels=tuple(entry["labels"]))
                            for entry in manifest.get("classifiers", []))
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise TeachboxError("broken_build", f"models/bases.json is malformed ({error!r}); rebuild with build.py.") from error
    return BaseCatalog(default=default, bases=specs, classifiers=classifiers)


def _scaling(name: object) -> str:
    if name not in SCALINGS:
        raise KeyError(f"preprocess {name!r} is not one of {', '.join(SCALINGS)}")
    return str(name)
