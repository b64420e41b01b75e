"""Assemble dist/: runtime files, the page, the Python package, converted base models and the file manifest.

The build writes into a temporary sibling folder and swaps it in only when every step succeeded, so a failed build
never leaves a half-written dist behind (and the previous good dist keeps working).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BuildError
from .headers import headers_file, inject_csp_meta
from .runtime_files import RUNTIME, copy_runtime, ensure_node_modules
from .samples import SAMPLE_SOURCES, SAMPLES_DIR, bundle_samples
from .service_worker import write_service_worker
from .weights import convert_model, resolve_source
from .weights_io import write_atomic

PAGE_FILES = ("index.html", "app.css", "boot.js", "offline.js", "kernels.js", "main.py", "interpreter.mjs", "snapshot-worker.mjs")
INTERPRETER = "interpreter.mjs"  # the module PyScript loads Pyodide through (snapshot restore: site/interpreter.mjs)
RUNTIME_DIGEST = "__PYODIDE_RUNTIME_DIGEST__"
BOOT = "boot.js"  # the page's first script: it shows the start-up's downloads (stamp_downloads)
DOWNLOADS_MARK = "/*__STARTUP_DOWNLOADS__*/ {}"
MODELS_DIR = "models"
BASES_MANIFEST = "models/bases.json"
CLASSIFIERS_DIR = "classifiers"  # models/classifiers/<id>/: --keras-classifier zips, listed in bases.json
FILE_MANIFEST = "build-manifest.json"
PACKAGE_ZIP = "py/teachbox.zip"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: entries carry no build time
HEADERS_FILE = "_headers"  # Netlify / Cloudflare Pages header rules (not served, so not in the manifest)
# Every visitor downloads the default base before the page works (and any other base they pick): past this, a base
# needs --allow-large. VGG16 is 528 MB in float32; MobileNet v1 α=1.0 17 MB.
MAX_BASE_BYTES = 100 * 1024 * 1024


@dataclass
class BuildOptions:
    """Everything `python build.py` was asked to do."""

    root: Path
    out: Path
    weights: list[str]
    quantize: str = "none"
    cut_layer: str | None = None
    datasets: list[str] = field(default_factory=list)  # --dataset DIR[:NAME] values (samples.py)
    dataset_limit: int | None = None  # --dataset-limit: at most this many images per class of each sample
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "teachbox")
    keras: list[str] = field(default_factory=list)  # --keras MODEL values: Keras models shipped as bases
    preprocess: str | None = None  # --preprocess: the pixel scaling of the --keras models (else read from their names)
    allow_large: bool = False  # --allow-large: ship bases over MAX_BASE_BYTES
    keras_classifiers: list[str] = field(default_factory=list)  # --keras-classifier MODEL: ready classifiers
    labels: list[str] = field(default_factory=list)  # --labels FILE: one per --keras-classifier, in order


def base_label(base_id: str) -> str:
    """A readable name for a MobileNet folder name such as `mobilenet_v1_0.25_224`, or an EfficientNet-Lite one such
    as `efficientnet_lite0_224` (what teachbox_build.efficientnet_lite's docs suggest); other ids are shown as they
    are."""
    parts = base_id.split("_")
    if len(parts) >= 3 and parts[0] == "mobilenet" and parts[1] in ("v1", "v2"):
        version = "v1" if parts[1] == "v1" else "V2"
        return f"MobileNet {version} α={parts[2]}"
    if len(parts) >= 2 and parts[0] == "efficientnet" and parts[1].startswith("lite") and parts[1][4:].isdigit():
        return f"EfficientNet-Lite{parts[1][4:]}"
    return base_id


def source_id(source: str) -> str:
    """The base id a --weights value gets: its folder name (for a URL, the folder holding model.json)."""
    trimmed = source.rstrip("/")
    if trimmed.endswith(".json"):
        trimmed = trimmed.rsplit("/", 1)[0]
    return trimmed.rsplit("/", 1)[-1] or "base"


def convert_bases(options: BuildOptions, dist: Path) -> list[dict]:
    """Convert every --weights source, then every --keras model, into dist/models/<id>/; return their manifest
    entries (with `preprocess`, the pixel scaling the page applies for that base)."""
    entries: list[dict] = []
    for source in options.weights:
        entries.append(_add_base(options, dist, source_id(source), resolve_source(source, options.cache_dir), "tf",
                                 entries))
    for source in options.keras:
        from .keras_import import load_keras, write_tfjs  # the keras extra, only when asked for

        model = load_keras(Path(source))
        scaling = options.preprocess or model.scaling
        if scaling is None:
            raise BuildError(f"cannot tell how {source} ({model.name}) scales its pixels: pass --preprocess "
                             "tf|torch|caffe|none (what its keras.applications preprocess_input does)")
        with tempfile.TemporaryDirectory(prefix="teachbox-keras-") as work:
            entries.append(_add_base(options, dist, keras_id(source), write_tfjs(model, Path(work)), scaling, entries))
    return entries


def _add_base(options: BuildOptions, dist: Path, base_id: str, model_dir: Path, scaling: str,
              entries: list[dict]) -> dict:
    """One base converted into dist/models/<id>/, refused when its id is taken or it is too big to ship."""
    if base_id in {entry["id"] for entry in entries}:
        raise BuildError(f"two bases share the id {base_id!r}: give each model its own file or folder name")
    entry = convert_model(model_dir, dist / MODELS_DIR / base_id, quantize=options.quantize,
                          cut_layer=options.cut_layer, base_id=base_id)
    _check_size(f"base {base_id}", entry["weightBytes"], options)
    return {**entry, "label": base_label(base_id), "url": f"{MODELS_DIR}/{base_id}/{entry['modelJson']}",
            "preprocess": scaling}


def add_classifiers(options: BuildOptions, dist: Path) -> list[dict]:
    """Every --keras-classifier with its --labels as a model zip in dist/models/classifiers/<id>/; their entries."""
    if len(options.keras_classifiers) != len(options.labels):
        raise BuildError(f"{len(options.keras_classifiers)} --keras-classifier but {len(options.labels)} --labels: "
                         "give each classifier its labels file, in the same order")
    entries: list[dict] = []
    for model, labels in zip(options.keras_classifiers, options.labels):
        from .keras_classifier import classifier_zip  # the keras extra, only when asked for

        with tempfile.TemporaryDirectory(prefix="teachbox-keras-") as work:
            archive, entry = classifier_zip(Path(model), Path(labels), options.preprocess, Path(work))
        if entry["id"] in {e["id"] for e in entries}:
            raise BuildError(f"two classifiers share the id {entry['id']!r}: give each model its own file name")
        _check_size(entry["id"], len(archive), options)
        folder = f"{MODELS_DIR}/{CLASSIFIERS_DIR}/{entry['id']}"
        write_atomic(dist / folder / entry["file"], archive)
        entries.append({**entry, "url": f"{folder}/{entry['file']}"})
    return entries


def _check_size(name: str, size: int, options: BuildOptions) -> None:
    """Refuse a model over MAX_BASE_BYTES unless --allow-large, saying how to shrink it."""
    if size <= MAX_BASE_BYTES or options.allow_large:
        return
    hint = "--quantize float16 halves it, uint8 quarters it" if options.quantize == "none" else \
        "choose a smaller model or an earlier --cut"
    raise BuildError(f"{name} would ship {size / 2**20:.1f} MB of weights (limit {MAX_BASE_BYTES // 2**20} MB, "
                     f"every visitor downloads them): {hint}, or pass --allow-large")


def keras_id(source: str) -> str:
    """The base id a --keras model gets: its file name without the extension (a SavedModel: its folder name)."""
    path = Path(source.rstrip("/"))
    return path.name if path.is_dir() else path.stem


def write_pyscript_config(dist: Path, package: Path) -> None:
    """PyScript's config: the local interpreter (never a CDN; through interpreter.mjs, which restores a stored
    snapshot) and our package through `files` (never `packages`).

    The package is one zip that PyScript unpacks into the interpreter's working directory ("./*"), so the page
    makes one request for it instead of one per module: those requests only start once Pyodide is up, so they sit
    on the start-up's critical path (50 files took ~0.2 s there; the zip ~20 ms).
    """
    files = {f"./{package.relative_to(dist).as_posix()}": "./*"}
    config = {"interpreter": f"./{INTERPRETER}", "files": files}
    (dist / "pyscript.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def zip_package(root: Path, dist: Path) -> Path:
    """py/teachbox (the code that runs in the page) as dist/py/teachbox.zip, entries `teachbox/...`.

    Deterministic: sorted entries with a fixed timestamp, so the same source always gives the same bytes (and the
    same build digest and service-worker cache name).
    """
    source = root / "py" / "teachbox"
    target = dist / PACKAGE_ZIP
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*.py")):
            info = zipfile.ZipInfo(path.relative_to(root / "py").as_posix(), date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return target


def stamp_interpreter(dist: Path) -> str:
    """Write the digest of the Pyodide runtime files into dist/interpreter.mjs, which keys its stored snapshot by
    it: a snapshot is only valid for the exact interpreter that made it, and survives app-only updates."""
    runtime = next(group for group in RUNTIME if group.package == "pyodide")
    digest = hashlib.sha256()
    for name in runtime.names:
        digest.update(name.encode() + b"\0" + (dist / runtime.target_dir / name).read_bytes())
    value = digest.hexdigest()[:16]
    module = dist / INTERPRETER
    text = module.read_text(encoding="utf-8")
    if text.count(RUNTIME_DIGEST) != 1:
        raise BuildError(f"site/{INTERPRETER} must hold {RUNTIME_DIGEST} exactly once")
    module.write_text(text.replace(RUNTIME_DIGEST, value), encoding="utf-8")
    return value


def startup_downloads() -> dict[str, list[str]]:
    """What a first visit downloads before Python runs, by the name a person is told is loading (boot.js): all of
    Pyodide's runtime files, and the TF.js scripts index.html loads (the wasm binary is chosen later, by Python)."""
    pyodide = next(group for group in RUNTIME if group.package == "pyodide")
    scripts = [f"{group.target_dir}/{name}" for group in RUNTIME if group.package.startswith("@tensorflow/")
               for name in group.names if name.endswith(".js")]
    return {"Python (Pyodide)": [f"{pyodide.target_dir}/{name}" for name in pyodide.names], "TensorFlow.js": scripts}


def stamp_downloads(dist: Path) -> dict[str, dict[str, int]]:
    """Write the sizes of the start-up downloads into dist/boot.js, so a first visit's status line can say how far
    each has come ("Python (Pyodide) 4.1 of 13.5 MB") from the files' resource-timing entries as they arrive."""
    sizes = {group: {path: (dist / path).stat().st_size for path in paths}
             for group, paths in startup_downloads().items()}
    script = dist / BOOT
    text = script.read_text(encoding="utf-8")
    if text.count(DOWNLOADS_MARK) != 1:
        raise BuildError(f"site/{BOOT} must hold {DOWNLOADS_MARK} exactly once")
    script.write_text(text.replace(DOWNLOADS_MARK, json.dumps(sizes, sort_keys=True)), encoding="utf-8")
    return sizes


def copy_page(root: Path, dist: Path) -> None:
    """The page itself: HTML (with the Content-Security-Policy as <meta>), CSS, the JS glue and the PyScript entry."""
    for name in PAGE_FILES:
        source = root / "site" / name
        if not source.is_file():
            raise BuildError(f"site/{name} is missing from the checkout")
        shutil.copyfile(source, dist / name)
    index = dist / "index.html"
    try:
        index.write_text(inject_csp_meta(index.read_text(encoding="utf-8")), encoding="utf-8")
    except ValueError as error:
        raise BuildError(f"site/index.html: {error}") from error
    assets = root / "assets"
    if assets.is_dir():  # assets/samples/ holds the sources of --dataset samples: samples.py copies what it uses
        shutil.copytree(assets, dist / "assets", dirs_exist_ok=True,
                        ignore=lambda folder, names: [SAMPLE_SOURCES] if Path(folder) == assets else [])


def write_file_manifest(dist: Path, version: str) -> dict:
    """Every file of the build with its size and SHA-256: the list an offline cache precaches and verifies."""
    files = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files.append({"path": path.relative_to(dist).as_posix(), "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    manifest = {"version": version, "build": digest, "files": files}
    (dist / FILE_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def package_version(root: Path) -> str:
    """The version string of py/teachbox, read without importing it."""
    for line in (root / "py" / "teachbox" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise BuildError("py/teachbox/__init__.py has no __version__")


def build(options: BuildOptions) -> dict:
    """Build into a temporary folder, then swap it in place of options.out. Returns the file manifest."""
    if not options.weights and not options.keras:
        raise BuildError("no base model given: pass --weights DIR_OR_URL or --keras MODEL")
    out = options.out.resolve()
    staging = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        node_modules = ensure_node_modules(options.root)
        copy_runtime(node_modules, staging)
        copy_page(options.root, staging)
        stamp_interpreter(staging)
        stamp_downloads(staging)
        write_pyscript_config(staging, zip_package(options.root, staging))
        bases = convert_bases(options, staging)
        manifest = {"default": bases[0]["id"], "bases": bases, "classifiers": add_classifiers(options, staging)}
        (staging / BASES_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        bundle_samples(options.datasets, staging, options.dataset_limit)
        files = write_file_manifest(staging, package_version(options.root))
        write_service_worker(options.root, staging, files, FILE_MANIFEST)
        (staging / HEADERS_FILE).write_text(headers_file([f["path"] for f in files["files"]]), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, out)
    return files


def swap_in(staging: Path, out: Path) -> None:
    """Replace out by staging with two renames, so a reader never sees a mix of two builds' files."""
    retired = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)


def describe_bases(bases: list[dict]) -> list[str]:
    """Lines the build prints per base: where it was cut, its pixel scaling, and its bytes before and after the cut
    and quantization (what a visitor downloads)."""
    return [f"  base {b['id']}: cut at {b['cutLayer']} ({b['featureDim']} features), preprocess {b['preprocess']}; "
            f"weights {b['sourceBytes']:,} bytes in the model -> {b['weightBytes']:,} bytes shipped "
            f"(quantize {b['quantize']}, shards: {b['shards']})" for b in bases]


def summarize(manifest: dict) -> list[str]:
    """Lines the build prints: bytes per top-level folder and the total."""
    groups: dict[str, tuple[int, int]] = {}
    for entry in manifest["files"]:
        head = entry["path"].split("/")[0] if "/" in entry["path"] else "(page)"
        if head in ("vendor", "models", SAMPLES_DIR) and entry["path"].count("/") > 1:
            head = "/".join(entry["path"].split("/")[:2])
        count, size = groups.get(head, (0, 0))
        groups[head] = (count + 1, size + entry["bytes"])
    lines = [f"  {name:<28} {count:>4} files {size:>12,} bytes" for name, (count, size) in sorted(groups.items())]
    total = sum(entry["bytes"] for entry in manifest["files"])
    lines.append(f"  {'total':<28} {len(manifest['files']):>4} files {total:>12,} bytes")
    return lines
