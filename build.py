"""Build Teachbox into dist/ (a self-contained static site), or preview it.

    python build.py [--weights DIR_OR_URL ...] [--quantize none|float16|uint8] [--cut LAYER] [--out dist]
                    [--dataset DIR[:NAME] ...] [--dataset-limit N]
    python build.py serve [--port 8000] [--out dist]

The work is done by the `teachbox_build` package in py/; this file only parses the command line, so the build runs
from a fresh clone without installing anything but numpy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "py"))

from teachbox_build.assemble import BuildOptions, build, summarize  # noqa: E402
from teachbox_build.errors import BuildError  # noqa: E402
from teachbox_build.weights import QUANTIZE_MODES  # noqa: E402

DEFAULT_WEIGHTS = "https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("build", "serve"), default="build")
    parser.add_argument("--weights", action="append", metavar="DIR_OR_URL",
                        help="a TF.js layers model (folder, model.json or URL); repeat for several bases, the first "
                             f"is the default (default: {DEFAULT_WEIGHTS})")
    parser.add_argument("--quantize", choices=QUANTIZE_MODES, default="none", help="weight storage in dist")
    parser.add_argument("--cut", metavar="LAYER", help="cut the base at this layer (default: before global pooling)")
    parser.add_argument("--dataset", action="append", default=[], metavar="DIR[:NAME]",
                        help="bundle a folder with a labels.csv as a sample data set (the page's \"Try a sample\" "
                             "menu); repeat for several")
    parser.add_argument("--dataset-limit", type=int, metavar="N",
                        help="at most N images per class of each sample (a fixed-seed draw)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument("--port", type=int, default=8000, help="port for `serve` (default: 8000)")
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(ROOT, args.out, args.weights or [DEFAULT_WEIGHTS], args.quantize, args.cut,
                        datasets=args.dataset, dataset_limit=args.dataset_limit)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from teachbox_build.serve import serve

    try:
        if args.command == "serve":
            if not (args.out / "index.html").is_file():
                print(f"{args.out} has no build yet: building first", flush=True)
                build(options(args))
            serve(args.out.resolve(), args.port)
            return 0
        manifest = build(options(args))
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (build {manifest['build']}):")
    print("\n".join(summarize(manifest)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
