"""Coverage of PyTorch's public names (tests/data/torch_public_names.json) per namespace.

The figures are printed (``pytest -s``) and the README shows them; the test fails when a
namespace offers fewer names than recorded here, so coverage only grows.
"""

import importlib.util
import os

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "api_coverage.py")

# Names offered when this was last raised (never lower these).
MINIMUM = {
    "torch": 546,
    "torch.Tensor": 547,
    "torch.linalg": 44,
    "torch.func": 13,
    "torch.nn": 164,
    "torch.nn.functional": 118,
    "torch.optim": 17,
    "torch.optim.lr_scheduler": 17,
    "torch.utils.data": 23,
    "torch.distributions": 114,
    "torch.special": 56,
    "torch.distributed": 58,
}


def _coverage():
    spec = importlib.util.spec_from_file_location("api_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.coverage()


def test_public_name_coverage_does_not_drop():
    module, result = _coverage()
    print("\n" + module.table(result))
    assert set(MINIMUM) <= set(result)
    dropped = {
        key: (result[key][0], floor) for key, floor in MINIMUM.items() if result[key][0] < floor
    }
    assert not dropped, f"public names lost (offered, recorded minimum): {dropped}"

