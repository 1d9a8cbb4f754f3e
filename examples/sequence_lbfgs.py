"""Sequence prediction trained with L-BFGS: an LSTM learns to continue sine waves.

    python examples/sequence_lbfgs.py --steps 10

Each training sequence is a sine wave with its own phase; the model reads a wave one value
at a time and predicts the next value. It is fitted with ``optim.LBFGS`` and a strong-Wolfe
line search (each step re-evaluates the loss through a closure), as in PyTorch's classic
time-sequence example. After training it continues held-out waves for ``--future`` values
with no input but its own predictions, and prints the error of that free-running forecast.
"""

import argparse
import math
import time

import rtorch as torch
from rtorch import nn


def sine_waves(count, length, period=20.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    phases = torch.randint(-4 * int(period), 4 * int(period), (count, 1), generator=gen)
    steps = torch.arange(length).unsqueeze(0) + phases
    return torch.sin(steps.double() / period * 2 * math.pi / 2.0)


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, waves, future=0):
        """Predictions for each next value of `waves`, then `future` more values fed back."""
        out, state = self.lstm(waves.unsqueeze(-1))
        predictions = self.head(out).squeeze(-1)
        last = predictions[:, -1:]
        extra = []
        for _ in range(future):
            out, state = self.lstm(last.unsqueeze(-1), state)
            last = self.head(out).squeeze(-1)
            extra.append(last)
        return torch.cat([predictions] + extra, dim=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="L-BFGS steps")
    parser.add_argument("--future", type=int, default=100)
    parser.add_argument("--length", type=int, default=120)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    waves = sine_waves(40, args.length + args.future + 1)
    train, test = waves[:32], waves[32:]
    x, y = train[:, : args.length], train[:, 1 : args.length + 1]
    model = Forecaster().double()
    loss_fn = nn.MSELoss()
    opt = torch.optim.LBFGS(model.parameters(), lr=0.8, max_iter=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    start = time.time()
    for step in range(1, args.steps + 1):
        loss = opt.step(closure)
        print(f"step {step:2d}  train loss {loss.item():.6f}  ({time.time() - start:.1f}s)")

    with torch.no_grad():
        inputs = test[:, : args.length]
        target = test[:, 1 : args.length + 1 + args.future]
        forecast = model(inputs, future=args.future)
        seen = loss_fn(forecast[:, : args.length], target[:, : args.length]).item()
        free = loss_fn(forecast[:, args.length :], target[:, args.length :]).item()
    print(f"held-out waves: one-step error {seen:.6f}, free-running {args.future}-step error {free:.6f}")
    return seen, free


if __name__ == "__main__":
    main()
