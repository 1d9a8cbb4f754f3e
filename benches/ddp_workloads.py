"""The DistributedDataParallel workloads that ``distributed_bench.py`` (rtorch) and
``torch_ddp_reference.py`` (PyTorch) both time, written once against either library."""


def models(nn):
    """(name, constructor, input shape per example) of each workload, built with ``nn``."""

    def cnn():
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
        )

    def mlp():
        return nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                             nn.Linear(1024, 10))

    return [("digits CNN", cnn, (1, 8, 8)), ("MLP 512-1024-1024-10", mlp, (512,))]


def step_pair(lib, ddp_class, make, shape, batch):
    """Two training steps of the workload, one on a local model and one on its
    ``ddp_class`` wrap (same initial weights, SGD), and the model's parameter count."""
    nn = lib.nn
    x = lib.randn(batch, *shape)
    y = lib.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step(model, opt):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    lib.manual_seed(0)
    local = make()
    lopt = lib.optim.SGD(local.parameters(), lr=0.01)
    ddp = ddp_class(make())
    dopt = lib.optim.SGD(ddp.parameters(), lr=0.01)
    params = sum(p.numel() for p in local.parameters())
    return (lambda: step(local, lopt)), (lambda: step(ddp, dopt)), params
