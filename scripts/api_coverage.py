"""How many of PyTorch's public names rtorch offers, per namespace.

Reads the reference list tests/data/torch_public_names.json (made by
scripts/torch_public_names.py) and prints a table; ``--missing NAMESPACE`` lists the gaps.
Needs only rtorch.
"""

import argparse
import importlib
import json
import os

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                         "torch_public_names.json")


def _namespace(key):
    path = "r" + key
    if path.endswith(".Tensor"):
        return importlib.import_module(path[: -len(".Tensor")]).Tensor
    return importlib.import_module(path)


def coverage():
    """{namespace: (offered, total, missing names)}."""
    with open(REFERENCE) as fh:
        reference = json.load(fh)
    result = {}
    for key, names in reference.items():
        if not isinstance(names, list):
            continue
        space = _namespace(key)
        missing = [n for n in names if not hasattr(space, n)]
        result[key] = (len(names) - len(missing), len(names), missing)
    return result


def table(result):
    lines = ["| namespace | rtorch offers | of PyTorch's | share |", "|---|---:|---:|---:|"]
    for key, (have, total, _) in result.items():
        lines.append(f"| `{key}` | {have} | {total} | {100 * have / total:.0f}% |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", help="list the missing names of one namespace")
    args = parser.parse_args()
    result = coverage()
    if args.missing:
        print("\n".join(result[args.missing][2]))
    else:
        print(table(result))


if __name__ == "__main__":
    main()
