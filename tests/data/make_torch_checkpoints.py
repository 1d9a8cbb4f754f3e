"""Writes the PyTorch-made checkpoints that tests/python/test_checkpoint_format.py loads.

Run once with PyTorch installed (``python tests/data/make_torch_checkpoints.py``); the files
are small and checked in. Every value is derived from ``arange`` so that the tests can
recompute what to expect with numpy alone.
"""

import collections
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def tensors_and_views():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "base": base,
        "row_view": base[1],
        "strided_view": base[:, 1::2],
        "transposed": base.t(),
        "same_object": base,
        "float64": torch.arange(5, dtype=torch.float64) / 4,
        "float16": torch.arange(6, dtype=torch.float16) / 2,
        "bfloat16": torch.arange(4, dtype=torch.bfloat16) - 1.5,
        "int32": torch.arange(-3, 3, dtype=torch.int32),
        "int8": torch.arange(-2, 2, dtype=torch.int8),
        "uint8": torch.arange(250, 256, dtype=torch.int64).to(torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "needs_grad": torch.arange(3.0).requires_grad_(),
        "parameter": torch.nn.Parameter(torch.arange(4.0).reshape(2, 2)),
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "nested": [1, 2.5, "text", None, (True, b"raw"), {"k": torch.arange(2)}],
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "a_set": {3, 1},
    }


def model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                torch.nn.Linear(4, 2))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) / 10 + i)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.arange(15, dtype=torch.float32).reshape(5, 3) / 7
    model(x).square().sum().backward()
    opt.step()
    return model, opt


def main():
    torch.save(tensors_and_views(), path("torch_tensors.pt"))
    model, opt = model_and_optimizer()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
               path("torch_training_state.pt"))
    legacy = {"weight": torch.arange(6.0).reshape(2, 3), "step": 7}
    torch.save(legacy, path("torch_legacy_format.pt"), _use_new_zipfile_serialization=False)
    torch.save({"array": np.arange(4, dtype=np.int16)}, path("torch_numpy.pt"))
    torch.save({"u": torch.tensor([1, 2, 65535], dtype=torch.uint16)}, path("torch_uint16.pt"))
    whole = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4))
    with torch.no_grad():
        whole[0].weight.copy_(torch.arange(12.0).reshape(4, 3) / 10)
        whole[0].bias.fill_(-0.5)
        whole[2].running_mean.fill_(0.25)
    torch.save(whole.eval(), path("torch_whole_module.pt"))
    print("written to", HERE)


if __name__ == "__main__":
    main()
