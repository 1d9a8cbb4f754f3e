"""Train a small CNN (or MLP) on scikit-learn's bundled handwritten digits with rtorch.

    python examples/train_digits.py            # CNN, 15 epochs
    python examples/train_digits.py --model mlp
    python examples/train_digits.py --tensorboard runs/digits   # then: tensorboard --logdir runs

Prints a progress bar per epoch, the test accuracy, and writes ``digits_training.png``
(loss and accuracy curves) in the current directory. The code is ordinary PyTorch code:
only the import differs.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import rtorch as torch
from rtorch import nn
from rtorch.utils.data import DataLoader, TensorDataset


def make_model(kind):
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            pred = model(x).argmax(dim=1)
            correct += (pred == y).sum().item()
            total += y.numel()
    model.train()
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--plot", default="digits_training.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tensorboard", metavar="DIR", default=None,
                        help="log loss, accuracy, weight histograms and the model graph to DIR "
                             "(needs: pip install 'rtorch[tensorboard]')")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # (N, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
    )
    train = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train).long())
    test = TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test).long())
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=256)

    model = make_model(args.model)
    print(model)
    print(f"{sum(p.numel() for p in model.parameters())} parameters; "
          f"{len(train)} training and {len(test)} test images")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    writer = None
    if args.tensorboard:
        from rtorch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tensorboard)
        writer.add_graph(model, train[0][0][None])
        writer.add_images("digits/samples", train[:16][0], 0)

    history = {"loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    step = 0
    for epoch in range(1, args.epochs + 1):
        running, batches = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch:2d}/{args.epochs}", leave=False)
        for xb, yb in bar:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
            if writer is not None:
                writer.add_scalar("loss/batch", loss.item(), step)
            step += 1
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        history["loss"].append(running / batches)
        history["train_acc"].append(evaluate(model, train_loader))
        history["test_acc"].append(evaluate(model, test_loader))
        print(f"epoch {epoch:2d}  loss {history['loss'][-1]:.4f}  "
              f"train acc {history['train_acc'][-1]:.3f}  test acc {history['test_acc'][-1]:.3f}")
        if writer is not None:
            writer.add_scalar("loss/epoch", history["loss"][-1], epoch)
            writer.add_scalars("accuracy", {"train": history["train_acc"][-1],
                                            "test": history["test_acc"][-1]}, epoch)
            writer.add_scalar("lr", scheduler.get_last_lr()[0], epoch)
            for name, p in model.named_parameters():
                writer.add_histogram(f"params/{name}", p, epoch)
    if writer is not None:
        writer.add_hparams({"model": args.model, "lr": args.lr, "batch_size": args.batch_size,
                            "epochs": args.epochs},
                           {"hparam/test_acc": history["test_acc"][-1]}, run_name="hparams")
        writer.close()
        print(f"TensorBoard logs in {args.tensorboard}: tensorboard --logdir {args.tensorboard}")
    elapsed = time.perf_counter() - start
    acc = history["test_acc"][-1]
    print(f"test accuracy: {acc * 100:.2f}%  ({elapsed:.1f}s of training)")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        epochs = range(1, args.epochs + 1)
        a1.plot(epochs, history["loss"], marker="o")
        a1.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
        a2.plot(epochs, history["train_acc"], marker="o", label="train")
        a2.plot(epochs, history["test_acc"], marker="o", label="test")
        a2.set(title=f"accuracy ({args.model})", xlabel="epoch", ylabel="accuracy", ylim=(0.5, 1.0))
        a2.legend()
        from matplotlib.ticker import MaxNLocator

        for ax in (a1, a2):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    except ImportError:
        print("matplotlib not installed: skipping the plot")
    return acc


if __name__ == "__main__":
    main()
