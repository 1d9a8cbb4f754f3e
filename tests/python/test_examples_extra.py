"""The LBFGS sequence example and the word-level language model example learn, and the
language model's checkpoint reloads under weights_only=True with the same result."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lbfgs_sequence_model_forecasts_sine_waves():
    one_step, free_running = _example("sequence_lbfgs").main(["--steps", "4", "--future", "50"])
    # a constant forecast of a unit sine has mean squared error 0.5
    assert one_step < 0.01
    assert free_running < 0.05


def test_word_language_model_learns_and_reloads(tmp_path, capsys):
    pytest.importorskip("sklearn")
    mod = _example("word_language_model")
    perplexity = mod.main(["--epochs", "1", "--checkpoint", str(tmp_path / "wm.pt")])
    out = capsys.readouterr().out
    vocabulary = int(out.split("vocabulary ")[1].split(",")[0])
    assert perplexity < vocabulary / 5  # far better than guessing uniformly
    epoch_line = [line for line in out.splitlines() if line.startswith("epoch 1:")][0]
    trained = float(epoch_line.split("valid perplexity ")[1])
    assert abs(trained - perplexity) < 0.05  # the reloaded model scores what was saved
