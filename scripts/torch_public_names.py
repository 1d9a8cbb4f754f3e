"""Writes tests/data/torch_public_names.json: PyTorch's public names per namespace, the
reference list that tests/python/test_api_coverage.py measures rtorch against.

Run with an interpreter that has PyTorch installed: ``python scripts/torch_public_names.py``.
"""

import importlib
import json
import os

NAMESPACES = {
    "torch": "torch",
    "torch.Tensor": "torch.Tensor",
    "torch.nn": "torch.nn",
    "torch.nn.functional": "torch.nn.functional",
    "torch.optim": "torch.optim",
    "torch.optim.lr_scheduler": "torch.optim.lr_scheduler",
    "torch.utils.data": "torch.utils.data",
    "torch.distributions": "torch.distributions",
    "torch.special": "torch.special",
    "torch.distributed": "torch.distributed",
    "torch.linalg": "torch.linalg",
    "torch.func": "torch.func",
}


def _defined_by_torch(value):
    import types

    if isinstance(value, types.ModuleType):
        return value.__name__.startswith("torch")
    module = getattr(value, "__module__", None)
    if not isinstance(module, str):
        module = type(value).__module__
    return module.startswith("torch")


def public_names(path):
    module_name, _, attr = path.partition(".Tensor")
    obj = importlib.import_module(module_name)
    if attr or path.endswith(".Tensor"):
        obj = obj.Tensor
    names = set()
    for name in dir(obj):
        if name.startswith("_"):
            continue
        value = getattr(obj, name, None)
        if not path.endswith(".Tensor") and not _defined_by_torch(value):
            continue  # typing helpers, functools.partial, math.inf … imported for internal use
        names.add(name)
    return sorted(names)


def main():
    import torch

    out = {"torch_version": torch.__version__.split("+")[0]}
    out.update({key: public_names(path) for key, path in NAMESPACES.items()})
    target = os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                          "torch_public_names.json")
    with open(target, "w") as fh:
        json.dump(out, fh, indent=0, sort_keys=True)
        fh.write("\n")
    for key in NAMESPACES:
        print(f"{key}: {len(out[key])} names")


if __name__ == "__main__":
    main()
