"""End to end: small models learn with a plain manual SGD step."""

import numpy as np

import rtorch as torch
import rtorch.nn as nn
import rtorch.nn.functional as F


def sgd_step(model, lr):
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.add_(p.grad * -lr)
    model.zero_grad()


def test_mlp_fits_regression():
    torch.manual_seed(0)
    x = (
        torch.linspace(-2, 2, 64).reshape(64, 1)
        if hasattr(torch, "linspace")
        else (torch.arange(64, dtype=torch.float32).reshape(64, 1) / 16 - 2)
    )
    y = torch.sin(x * 1.5)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    loss_fn = nn.MSELoss()
    first = None
    for _ in range(400):
        loss = loss_fn(model(x), y)
        loss.backward()
        sgd_step(model, 0.1)
        first = float(loss) if first is None else first
    assert float(loss) < 0.1 * first
    assert float(loss) < 0.02


def test_classifier_reaches_accuracy():
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, 150)
    pts = centres[labels] + rng.standard_normal((150, 2)) * 0.6
    x = torch.tensor(pts.astype(np.float32).tolist())
    t = torch.tensor(labels.tolist())
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    for _ in range(150):
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        sgd_step(model, 0.2)
    acc = float((model(x).argmax(1) == t).float().mean())
    assert acc > 0.9


def test_conv_net_loss_falls():
    torch.manual_seed(2)
    x = torch.randn(16, 1, 8, 8)
    t = (x.mean((1, 2, 3)) > 0).long()
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 16, 2),
    )
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        sgd_step(model, 0.05)
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_lstm_learns_sequence_sum():
    torch.manual_seed(3)
    x = torch.rand(32, 5, 1)
    y = x.sum(1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(1, 8, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    model = Model()
    first = None
    for _ in range(150):
        loss = F.mse_loss(model(x), y)
        loss.backward()
        sgd_step(model, 0.1)
        first = float(loss) if first is None else first
    assert float(loss) < 0.2 * first
