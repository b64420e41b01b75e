"""build.py end to end on CPython: a real build from ../shared weights, its failure modes, and the preview server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import teachbox
from teachbox.model.base_catalog import parse_catalog
from teachbox_build.assemble import base_label, source_id, stamp_downloads, stamp_interpreter
from teachbox_build.errors import BuildError

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
V1_025 = MODELS / "mobilenet_v1_0.25_224"
V1_075 = MODELS / "mobilenet_v1_0.75_224"
V2_035 = MODELS / "mobilenet_v2_0.35_224_no_top"
MALARIA = SHARED / "datasets" / "malaria"

pytestmark = pytest.mark.skipif(not (V1_025 / "model.json").is_file(), reason="../shared/models is not available")

TOTAL_LINE = re.compile(r"^\s+total\s+(\d+) files\s+([\d,]+) bytes$", re.MULTILINE)


def run_build(*args: str | Path, home: Path) -> subprocess.CompletedProcess:
    """`python build.py ARGS` from the repository root, with a private HOME so no download cache is shared."""
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([sys.executable, "build.py", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below folder with the SHA-256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("build")
    dist = work / "dist"
    result = run_build("--weights", V1_025, "--out", dist, home=work)
    assert result.returncode == 0, result.stderr
    return dist, result


def test_build_succeeds_and_prints_the_total(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    dist, result = built
    assert result.stderr == ""
    match = TOTAL_LINE.search(result.stdout)
    assert match, result.stdout
    manifest = json.loads((dist / "build-manifest.json").read_text())
    assert int(match.group(1)) == len(manifest["files"])
    assert int(match.group(2).replace(",", "")) == sum(entry["bytes"] for entry in manifest["files"])
    assert f"(build {manifest['build']})" in result.stdout


def test_page_and_pyscript_config_are_local(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    dist, _ = built
    for name in ("index.html", "app.css", "boot.js", "offline.js", "kernels.js", "main.py"):
        assert (dist / name).is_file(), name
    config = json.loads((dist / "pyscript.json").read_text())
    assert "packages" not in config
    assert "http" not in config["interpreter"]
    assert (dist / config["interpreter"]).is_file()
    assert "http" not in json.dumps(config)
    # The package is one zip, unpacked by PyScript into the working directory (on sys.path): one request.
    assert config["files"] == {"./py/teachbox.zip": "./*"}
    with zipfile.ZipFile(dist / "py" / "teachbox.zip") as archive:
        shipped = set(archive.namelist())
        assert archive.testzip() is None
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}, "no build time inside"
    source = ROOT / "py"
    assert shipped == {p.relative_to(source).as_posix() for p in (source / "teachbox").rglob("*.py")}
    assert "teachbox/__init__.py" in shipped and "teachbox/ui/page.py" in shipped
    assert not (dist / "py" / "teachbox").exists(), "the loose modules are not shipped beside the zip"


def test_interpreter_module_keys_its_snapshot_by_the_pyodide_runtime(built: tuple[Path, subprocess.CompletedProcess],
                                                                      tmp_path: Path) -> None:
    dist, _ = built
    assert json.loads((dist / "pyscript.json").read_text())["interpreter"] == "./interpreter.mjs"
    module = (dist / "interpreter.mjs").read_text()
    assert "__PYODIDE_RUNTIME_DIGEST__" not in module
    stamped = re.search(r'const RUNTIME = "([0-9a-f]{16})";', module)
    assert stamped, "the runtime digest was not written into interpreter.mjs"
    digest = hashlib.sha256()
    for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"):
        digest.update(name.encode() + b"\0" + (dist / "vendor" / "pyodide" / name).read_bytes())
    assert stamped.group(1) == digest.hexdigest()[:16]
    assert (dist / "snapshot-worker.mjs").is_file()
    # A changed interpreter (here: its lock file) changes the key, so an old snapshot is never restored into it.
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    (copy / "interpreter.mjs").write_text((ROOT / "site" / "interpreter.mjs").read_text())
    (copy / "vendor" / "pyodide" / "pyodide-lock.json").write_text("{}")
    assert stamp_interpreter(copy) != stamped.group(1)
    (copy / "interpreter.mjs").write_text("export {};\n")
    with pytest.raises(BuildError, match="__PYODIDE_RUNTIME_DIGEST__ exactly once"):
        stamp_interpreter(copy)


def test_dist_holds_no_node_modules_or_source_maps(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    dist, _ = built
    everything = list(dist.rglob("*"))
    assert not [p for p in everything if p.name == "node_modules"]
    assert not [p for p in everything if p.name.endswith(".map")]
    for runtime in ("vendor/pyodide/pyodide.asm.wasm", "vendor/tfjs/tf.min.js", "vendor/tfjs/tfjs-backend-wasm.wasm",
                    "vendor/pyscript/core.js"):
        assert (dist / runtime).is_file(), runtime


def test_bases_json_points_at_the_converted_model(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    dist, _ = built
    manifest = json.loads((dist / "models" / "bases.json").read_text())
    assert manifest["default"] == "mobilenet_v1_0.25_224"
    [entry] = manifest["bases"]
    assert entry["id"] == "mobilenet_v1_0.25_224" and entry["featureDim"] == 256 and entry["quantize"] == "none"
    model_json = dist / entry["url"]
    assert model_json.is_file()
    model = json.loads(model_json.read_text())
    shards = [model_json.parent / path for group in model["weightsManifest"] for path in group["paths"]]
    assert shards and all(shard.is_file() for shard in shards)
    assert sum(shard.stat().st_size for shard in shards) == entry["weightBytes"]
    spec = parse_catalog(manifest).get(None)  # the page's own parser accepts what the build wrote
    assert spec.hash in spec.cache_key and spec.hash in entry["url"]


def test_file_manifest_lists_every_file_with_its_hash(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    dist, _ = built
    manifest = json.loads((dist / "build-manifest.json").read_text())
    listed = {entry["path"]: entry for entry in manifest["files"]}
    on_disk = snapshot(dist)
    assert set(listed) == set(on_disk) - {"build-manifest.json", "sw.js", "_headers"}  # written after the list
    for path, entry in listed.items():
        data = (dist / path).read_bytes()
        assert entry["bytes"] == len(data), path
        assert entry["sha256"] == on_disk[path], path
    assert manifest["version"] == teachbox.__version__
    assert re.fullmatch(r"[0-9a-f]{16}", manifest["build"])


def test_rebuild_is_byte_identical(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    dist, _ = built
    again = tmp_path / "dist"
    assert run_build("--weights", V1_025, "--out", again, home=tmp_path).returncode == 0
    assert snapshot(again) == snapshot(dist)


def fail_over_previous(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path, *args: str | Path) -> str:
    """Copy the good build to tmp_path/dist, run a failing build onto it; return the one stderr line."""
    dist = tmp_path / "dist"
    shutil.copytree(built[0], dist)
    before = snapshot(dist)
    result = run_build(*args, "--out", dist, home=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("build failed: ")
    assert snapshot(dist) == before  # the previous build is untouched
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(("dist.tmp-", "dist.old-"))]
    assert leftovers == []
    return lines[0]


def test_missing_weights_folder(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    line = fail_over_previous(built, tmp_path, "--weights", tmp_path / "no-such-model")
    assert "no-such-model" in line and "does not exist" in line


def test_corrupt_weights(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    model = tmp_path / "models" / "mobilenet_v1_0.25_224"
    shutil.copytree(V1_025, model)
    shard = model / "group3-shard1of1"
    shard.write_bytes(shard.read_bytes()[:100])
    line = fail_over_previous(built, tmp_path, "--weights", model)
    assert "disagrees with its shards" in line


def test_unreachable_url(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    line = fail_over_previous(built, tmp_path, "--weights", "http://127.0.0.1:9/model.json")
    assert "127.0.0.1:9" in line and "--weights" in line


def test_two_bases_with_the_same_folder_name(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    twin = tmp_path / "copy" / "mobilenet_v1_0.25_224"
    shutil.copytree(V1_025, twin)
    line = fail_over_previous(built, tmp_path, "--weights", V1_025, "--weights", twin)
    assert "mobilenet_v1_0.25_224" in line


@pytest.mark.skipif(not (MALARIA / "labels.csv").is_file(), reason="../shared/datasets is not available")
def test_bad_dataset_fails_the_build_atomically(built: tuple[Path, subprocess.CompletedProcess],
                                               tmp_path: Path) -> None:
    empty = tmp_path / "empty-set"
    empty.mkdir()
    (empty / "labels.csv").write_text("path,label\n../../etc/passwd,a\n/etc/hosts,b\n", encoding="utf-8")
    line = fail_over_previous(built, tmp_path, "--weights", V1_025, "--dataset", f"{MALARIA}:Malaria",
                              "--dataset", f"{empty}:Empty")
    assert f"--dataset {empty} (Empty)" in line and "needs two classes" in line


@pytest.mark.skipif(not (MALARIA / "labels.csv").is_file(), reason="../shared/datasets is not available")
def test_bundled_sample_is_printed_listed_and_left_out_of_the_precache(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    result = run_build("--weights", V1_025, "--dataset", f"{MALARIA}:Malaria", "--dataset-limit", "4",
                       "--out", dist, home=tmp_path)
    assert result.returncode == 0, result.stderr
    [sample] = json.loads((dist / "samples" / "index.json").read_text())["samples"]
    assert sample["counts"] == {"Parasitized": 4, "Uninfected": 4} and sample["images"] == 8
    files = json.loads((dist / "build-manifest.json").read_text())["files"]
    own = [f for f in files if f["path"].startswith("samples/malaria/")]
    assert len(own) == 10 and sample["bytes"] == sum(f["bytes"] for f in own)  # 8 images, CSV, PROVENANCE.md
    assert f"sample 'Malaria' → samples/malaria/: 8 images (Parasitized 4, Uninfected 4), {sample['bytes']:,} bytes" \
        in result.stdout
    assert re.search(rf"samples/malaria\s+10 files\s+{sample['bytes']:,} bytes", result.stdout)
    worker = (dist / "sw.js").read_text(encoding="utf-8")
    precache = worker.split("const PRECACHE = [", 1)[1].split("];", 1)[0]
    on_demand = worker.split("const ON_DEMAND = [", 1)[1].split("];", 1)[0]
    assert "samples/index.json" in precache and "samples/malaria/" not in precache
    assert all(f'"{f["path"]}"' in on_demand for f in own)


def test_bad_quantize_mode_is_a_usage_error(tmp_path: Path) -> None:
    result = run_build("--weights", V1_025, "--quantize", "int4", "--out", tmp_path / "dist", home=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.skipif(not (V1_075 / "model.json").is_file() or not (V2_035 / "model.json").is_file(),
                    reason="the three shared bases are not all available")
def test_three_bases_float16(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    result = run_build("--weights", V1_025, "--weights", V1_075, "--weights", V2_035, "--quantize", "float16",
                       "--out", dist, home=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((dist / "models" / "bases.json").read_text())
    assert [b["id"] for b in manifest["bases"]] == [V1_025.name, V1_075.name, V2_035.name]
    assert manifest["default"] == V1_025.name
    assert [b["featureDim"] for b in manifest["bases"]] == [256, 768, 1280]
    for entry in manifest["bases"]:
        assert entry["quantize"] == "float16"
        model_json = dist / entry["url"]
        assert model_json.is_file()
        model = json.loads(model_json.read_text())
        assert all(w["quantization"]["dtype"] == "float16"
                   for group in model["weightsManifest"] for w in group["weights"] if w["dtype"] == "float32")
        # float16 halves the float32 weights: stored bytes are exactly two per parameter
        assert entry["weightBytes"] == 2 * entry["params"]
    catalog = parse_catalog(manifest)
    assert catalog.get(None).id == V1_025.name
    assert [spec.label for spec in catalog.bases] == ["MobileNet v1 α=0.25", "MobileNet v1 α=0.75",
                                                     "MobileNet V2 α=0.35"]


def test_source_id_and_label() -> None:
    assert source_id("/x/models/mobilenet_v1_0.25_224") == "mobilenet_v1_0.25_224"
    assert source_id("/x/models/mobilenet_v1_0.25_224/") == "mobilenet_v1_0.25_224"
    assert source_id("https://h/tfjs/mobilenet_v1_0.25_224/model.json") == "mobilenet_v1_0.25_224"
    assert base_label("mobilenet_v2_0.35_224_no_top") == "MobileNet V2 α=0.35"
    assert base_label("efficientnet_lite0_224") == "EfficientNet-Lite0"
    assert base_label("efficientnet_b0") == "efficientnet_b0", "only the Lite variants are named so"
    assert base_label("my_model") == "my_model"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, attempts: int = 100):
    """urlopen, retrying while the server is still starting."""
    for _ in range(attempts):
        try:
            return urllib.request.urlopen(url, timeout=5)
        except urllib.error.URLError as error:
            if not isinstance(error.reason, ConnectionRefusedError):
                raise
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


def test_serve_smoke(built: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    dist, _ = built
    port = free_port()
    server = subprocess.Popen([sys.executable, "build.py", "serve", "--port", str(port), "--out", str(dist)],
                              cwd=ROOT, env={**os.environ, "HOME": str(tmp_path)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/"
        with get(base) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/html")
            assert response.read() == (dist / "index.html").read_bytes()
        with get(base + "vendor/tfjs/tfjs-backend-wasm-simd.wasm") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/wasm"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.read() == (dist / "vendor/tfjs/tfjs-backend-wasm-simd.wasm").read_bytes()
        with get(base + "vendor/pyodide/pyodide.mjs") as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(base + "no-such-file.js")
        assert missing.value.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_with_build_options_rebuilds_first(built: tuple[Path, subprocess.CompletedProcess],
                                                 tmp_path: Path) -> None:
    """`build.py --weights DIR serve` on an existing dist/ serves a build made with what it was told."""
    dist = tmp_path / "dist"
    shutil.copytree(built[0], dist)
    samples = dist / "samples" / "index.json"
    assert json.loads(samples.read_text(encoding="utf-8"))["samples"], "the build bundles the sample"
    port = free_port()
    server = subprocess.Popen([sys.executable, "build.py", "serve", "--no-sample", "--weights", str(V1_025),
                               "--port", str(port), "--out", str(dist)],
                              cwd=ROOT, env={**os.environ, "HOME": str(tmp_path)}, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        with get(f"http://127.0.0.1:{port}/", attempts=1200) as response:
            assert response.status == 200
        assert json.loads(samples.read_text(encoding="utf-8"))["samples"] == [], "the old build was served"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "rebuilding" in output


def test_boot_script_knows_the_sizes_of_the_start_up_downloads(built: tuple[Path, subprocess.CompletedProcess],
                                                               tmp_path: Path) -> None:
    """boot.js gets each start-up file's size, so a first visit's status line can say "4.1 of 13.5 MB"."""
    dist, _ = built
    script = (dist / "boot.js").read_text()
    stamped = re.search(r"const DOWNLOADS = (\{.*\});", script)
    assert stamped and "__STARTUP_DOWNLOADS__" not in script
    sizes = json.loads(stamped.group(1))
    assert set(sizes) == {"Python (Pyodide)", "TensorFlow.js"}
    assert sizes["TensorFlow.js"] == {path: (dist / path).stat().st_size
                                      for path in ("vendor/tfjs/tf.min.js", "vendor/tfjs/tf-backend-wasm.min.js")}
    assert sum(sizes["Python (Pyodide)"].values()) == sum(p.stat().st_size for p in (dist / "vendor/pyodide").iterdir())
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    (copy / "boot.js").write_text("(() => {})();\n")
    with pytest.raises(BuildError, match="__STARTUP_DOWNLOADS__"):
        stamp_downloads(copy)
