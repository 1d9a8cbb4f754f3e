"""Linear regression with nn.Linear(1, 1) and SGD: the classic first PyTorch program."""

import rtorch as torch
from rtorch import nn


class LinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


def main(epochs=1000):
    torch.manual_seed(0)
    x = torch.linspace(0, 1, 100).unsqueeze(1)  # inputs of shape (N, 1)
    y = 2.0 * x + 1.0 + 0.05 * torch.randn(100, 1)
    model = LinearRegressionModel()
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        if (epoch + 1) % 100 == 0:
            print(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.4f}")
    w, b = model.linear.weight.item(), model.linear.bias.item()
    print(f"learned y = {w:.3f} x + {b:.3f}")
    return w, b


if __name__ == "__main__":
    main()
