"""List public ``torch.Tensor`` attributes that ``rtorch.Tensor`` lacks.

Run with an interpreter that has both PyTorch and rtorch importable, e.g.
``PYTHONPATH=$PWD /work/tvenv/bin/python scripts/missing_tensor_methods.py``.
Prints the missing names, one per line, then a coverage summary.
"""

import argparse
import sys

import torch

import rtorch


def public(names):
    return {n for n in names if not n.startswith("_")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="only print the coverage line")
    args = parser.parse_args(argv)
    wanted = public(dir(torch.Tensor))
    have = public(dir(rtorch.Tensor)) & wanted
    missing = sorted(wanted - have)
    if not args.summary:
        for name in missing:
            print(name)
    share = 100.0 * len(have) / len(wanted)
    print(f"covered {len(have)}/{len(wanted)} ({share:.1f}%), missing {len(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
