"""The digits demo (examples/train_digits.py) trained data-parallel on several processes.

    python -m rtorch.distributed.run --nproc-per-node 2 examples/train_digits_ddp.py
    mpiexec -n 2 python examples/train_digits_ddp.py --model mlp --epochs 5

Each rank trains on its own shard of the training set (DistributedSampler); gradients are
averaged over the ranks by DistributedDataParallel during backward, so every rank holds the
same model. Rank 0 prints the progress and the final test accuracy. As in PyTorch, the
learning rate is for the global batch (--batch-size per rank x number of ranks).
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import rtorch as torch
import rtorch.distributed as dist
from rtorch import nn
from rtorch.nn.parallel import DistributedDataParallel as DDP
from rtorch.utils.data import DataLoader, DistributedSampler, TensorDataset


def make_model(kind):
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def accuracy(model, loader):
    """Accuracy over the samples of ``loader`` on all ranks together."""
    model.eval()
    counts = torch.zeros(2, dtype=torch.int64)
    with torch.no_grad():
        for x, y in loader:
            counts[0] += (model(x).argmax(dim=1) == y).sum()
            counts[1] += y.numel()
    model.train()
    dist.all_reduce(counts)
    return counts[0].item() / counts[1].item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
    )
    train = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train).long())
    test = TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test).long())
    sampler = DistributedSampler(train, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    test_loader = DataLoader(test, batch_size=256, sampler=DistributedSampler(test, shuffle=False))

    model = DDP(make_model(args.model))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    if rank == 0:
        print(f"{world} ranks; {len(train)} training images, {len(sampler)} per rank; "
              f"{sum(p.numel() for p in model.parameters())} parameters")

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        total = torch.zeros(2, dtype=torch.float64)
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * yb.numel(), yb.numel()], dtype=torch.float64)
        scheduler.step()
        dist.all_reduce(total)
        acc = accuracy(model, test_loader)
        if rank == 0:
            print(f"epoch {epoch:2d}  loss {total[0].item() / total[1].item():.4f}  "
                  f"test acc {acc:.3f}", flush=True)
    elapsed = time.perf_counter() - start
    acc = accuracy(model, test_loader)
    if rank == 0:
        print(f"test accuracy: {acc * 100:.2f}%  ({elapsed:.1f}s of training on {world} ranks)")
    dist.destroy_process_group()
    return acc


if __name__ == "__main__":
    main()
