"""End to end: real models learn on real data, and state_dict round trips are exact."""

import importlib.util
import io
import pathlib
import sys

import numpy as np
import pytest

import rtorch as torch
from rtorch import nn

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("kind,epochs", [("mlp", 20), ("cnn", 10)])
def test_digits_model_reaches_93_percent(kind, epochs, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    mod = _example("train_digits")
    monkeypatch.setattr(sys, "argv", ["train_digits", "--model", kind, "--epochs", str(epochs), "--plot", str(tmp_path / "p.png")])
    acc = mod.main()
    assert acc > 0.93


def test_char_transformer_loss_falls():
    mod = _example("char_transformer")
    _, chars, losses = mod.train(steps=120, log_every=1000)
    uniform = np.log(len(chars))
    assert losses[0] > 0.8 * uniform
    assert np.mean(losses[-10:]) < 2.2


def test_linear_regression_recovers_line():
    w, b = _example("linear_regression").main(epochs=1000)
    assert abs(w - 2.0) < 0.1 and abs(b - 1.0) < 0.1


def test_state_dict_round_trip_reproduces_outputs():
    torch.manual_seed(0)
    make = lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10)
    )
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf)
    clone = make()
    clone.load_state_dict(state["model"])
    clone.eval()
    assert torch.equal(model(x), clone(x))
