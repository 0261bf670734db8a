"""Rewrite a trusted mmpose checkpoint as a weights-only one, so later loads need no trust.

    python -m mmpose._convert SRC DST --trust
    python -m mmpose._convert SRC --check     exit 0 if SRC loads with weights_only=True, else 1 and why

SRC is read with full pickle (hence --trust: only for a file you trust, e.g. the DWPose checkpoint you
downloaded from its authors); DST gets the state dict and the keypoint mirror table only, which
torch.load(weights_only=True) reads. MuseTalk's path stays the same if you convert into a new file
and move it over the old one (keep the original).
"""

import argparse
import sys

import torch

from ._checkpoint import dataset_meta_of, read_checkpoint, state_dict_of
from ._errors import MmposeFreeError


def convert(src, dst):
    loaded = read_checkpoint(src, trust=True)
    state = state_dict_of(loaded, src)
    out = {"state_dict": {k: v for k, v in state.items() if torch.is_tensor(v)}}
    meta = dataset_meta_of(loaded) or {}
    if meta.get("flip_indices") is not None:
        out["meta"] = {
            "dataset_meta": {
                "flip_indices": [int(i) for i in meta["flip_indices"]],
                "dataset_name": str(meta.get("dataset_name", "")),
            }
        }
    torch.save(out, dst)
    torch.load(dst, map_location="cpu", weights_only=True)  # proves the promise
    return dst


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m mmpose._convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("src")
    parser.add_argument("dst", nargs="?")
    parser.add_argument("--trust", action="store_true", help="I trust SRC: read it with full pickle")
    parser.add_argument("--check", action="store_true", help="only say whether SRC loads with weights_only=True")
    args = parser.parse_args(argv)
    if args.check:
        try:
            read_checkpoint(args.src, trust=False)
        except MmposeFreeError as exc:
            print(exc)
            return 1
        print(f"{args.src} loads with weights_only=True")
        return 0
    if args.dst is None:
        parser.error("DST is required unless --check")
    if not args.trust:
        parser.error("reading SRC runs the pickle code inside it: pass --trust if you trust the file")
    convert(args.src, args.dst)
    print(f"wrote {args.dst} (loads with weights_only=True)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
