"""Build Teachbox into dist/ (a self-contained static site), or preview it.

    python build.py [--weights DIR_OR_URL ...] [--keras MODEL ...] [--keras-classifier MODEL --labels FILE ...]
                    [--preprocess tf|torch|caffe|none]
                    [--quantize none|float16|uint8] [--cut LAYER] [--allow-large] [--out dist]
                    [--dataset DIR[:NAME] ... | --no-sample] [--dataset-limit N]
    python build.py serve [--port 8000] [--out dist]

The work is done by the `teachbox_build` package in py/; this file only parses the command line, so the build runs
from a fresh clone without installing anything but numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "py"))

from teachbox.data.geometry import SCALINGS  # noqa: E402
from teachbox_build.assemble import BASES_MANIFEST, MAX_BASE_BYTES, BuildOptions, build, describe_bases, summarize  # noqa: E402
from teachbox_build.errors import BuildError  # noqa: E402
from teachbox_build.samples import default_datasets  # noqa: E402
from teachbox_build.weights import QUANTIZE_MODES  # noqa: E402

DEFAULT_WEIGHTS = "https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("build", "serve"), default="build")
    parser.add_argument("--weights", action="append", metavar="DIR_OR_URL",
                        help="a TF.js layers model (folder, model.json or URL); repeat for several bases, the first "
                             f"is the default (default: {DEFAULT_WEIGHTS})")
    parser.add_argument("--keras", action="append", default=[], metavar="MODEL",
                        help="a Keras model (.keras, .h5 or a SavedModel folder) shipped as a base, cut before its "
                             "classifier; repeat for several (needs the keras extra: pip install -e '.[keras]')")
    parser.add_argument("--keras-classifier", action="append", default=[], metavar="MODEL",
                        help="a trained Keras classifier shipped whole, which the page opens as a project's model "
                             "(needs --labels; repeat for several)")
    parser.add_argument("--labels", action="append", default=[], metavar="FILE",
                        help="the labels of a --keras-classifier, one per line in output order")
    parser.add_argument("--preprocess", choices=tuple(SCALINGS),
                        help="how the --keras models scale pixels, as their preprocess_input: tf = [-1, 1], torch, "
                             "caffe = BGR minus ImageNet means, none (default: read from the model's name)")
    parser.add_argument("--allow-large", action="store_true",
                        help=f"ship bases over {MAX_BASE_BYTES // 2**20} MB of weights")
    parser.add_argument("--quantize", choices=QUANTIZE_MODES, default="none", help="weight storage in dist")
    parser.add_argument("--cut", metavar="LAYER", help="cut the base at this layer (default: before global pooling)")
    parser.add_argument("--dataset", action="append", default=[], metavar="DIR[:NAME]",
                        help="bundle a folder with a labels.csv as a sample data set (the page's \"Try a sample\" "
                             "menu); repeat for several (default: the repository's sample, "
                             "assets/samples/malaria-cells)")
    parser.add_argument("--no-sample", action="store_true", help="bundle no sample data set")
    parser.add_argument("--dataset-limit", type=int, metavar="N",
                        help="at most N images per class of each sample (a fixed-seed draw)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument("--port", type=int, default=8000, help="port for `serve` (default: 8000)")
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> BuildOptions:
    weights = args.weights or ([] if args.keras else [DEFAULT_WEIGHTS])
    datasets = [] if args.no_sample else args.dataset or default_datasets(ROOT)
    return BuildOptions(ROOT, args.out, weights, args.quantize, args.cut, datasets=datasets,
                        dataset_limit=args.dataset_limit, keras=args.keras, preprocess=args.preprocess,
                        allow_large=args.allow_large, keras_classifiers=args.keras_classifier,
                        labels=args.labels)


def asks_for_a_build(args: argparse.Namespace) -> bool:
    """Whether `serve` was also told how to build (anything beyond --out and --port): `build.py --weights DIR serve`
    must serve a build with those weights, not whatever dist/ already held."""
    defaults = vars(parse_args([]))
    return any(value != defaults[key] for key, value in vars(args).items() if key not in ("command", "out", "port"))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from teachbox_build.serve import serve

    try:
        if args.command == "serve":
            if not (args.out / "index.html").is_file():
                print(f"{args.out} has no build yet: building first", flush=True)
                build(options(args))
            elif asks_for_a_build(args):
                print(f"build options given: rebuilding {args.out} first", flush=True)
                build(options(args))
            serve(args.out.resolve(), args.port)
            return 0
        manifest = build(options(args))
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (build {manifest['build']}):")
    bases = json.loads((args.out / BASES_MANIFEST).read_text(encoding="utf-8"))["bases"]
    print("\n".join(describe_bases(bases) + summarize(manifest)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
