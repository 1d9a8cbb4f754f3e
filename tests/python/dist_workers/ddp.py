"""Run by mpiexec from test_distributed_ddp.py: DistributedDataParallel against one process
training on all ranks' batches, no_sync, unused parameters, shared weights, buffers, and
DistributedSampler. Prints PASS lines; any failure raises."""

import sys
from datetime import timedelta

import rtorch as torch
import rtorch.distributed as dist
from rtorch import nn
from rtorch.nn.parallel import DistributedDataParallel as DDP
from rtorch.utils.data import DistributedSampler, TensorDataset

dist.init_process_group("mpi", timeout=timedelta(seconds=30))
R, W = dist.get_rank(), dist.get_world_size()
B = 4  # per-rank batch


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 5),
    )


class Heads(nn.Module):
    """Rank-dependent use of parameters: ``b`` only on rank 0, ``never`` on no rank."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 3)
        self.never = nn.Linear(6, 3)

    def forward(self, x, use_b):
        h = torch.tanh(self.shared(torch.tanh(self.shared(x))))  # one weight, two uses
        out = self.a(h)
        return out + self.b(h) if use_b else out


def batches(shape, classes, steps, seed=1):
    g = torch.Generator()
    g.manual_seed(seed)
    return [(torch.randn(W * B, *shape, generator=g), torch.randint(0, classes, (W * B,), generator=g))
            for _ in range(steps)]


def close(model, ref, what, tol=2e-5):
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        if (p.grad is None) != (q.grad is None):
            raise AssertionError(f"{what}: {n}: grad None mismatch ({p.grad is None} vs {q.grad is None})")
        err = float((p.detach() - q.detach()).abs().max())
        if err > tol:
            raise AssertionError(f"rank {R}: {what}: parameter {n} differs by {err}")


def train_vs_reference(make, shape, classes, opt_cls, what, steps=4, **opt_kw):
    torch.manual_seed(100 + R)  # different initial weights: DDP must broadcast rank 0's
    model = make()
    ddp = DDP(model)
    ref = make()
    ref.load_state_dict(model.state_dict())
    opt = opt_cls(ddp.parameters(), **opt_kw)
    ropt = opt_cls(ref.parameters(), **opt_kw)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches(shape, classes, steps):
        opt.zero_grad()
        loss_fn(ddp(x[R * B:(R + 1) * B]), y[R * B:(R + 1) * B]).backward()
        opt.step()
        ropt.zero_grad()
        loss_fn(ref(x), y).backward()  # the mean over all ranks' samples
        ropt.step()
    close(model, ref, what)
    return ddp


ddp = train_vs_reference(mlp, (6,), 3, torch.optim.SGD, "mlp sgd", lr=0.3, momentum=0.9)
assert list(ddp.state_dict())[0] == "module.0.weight" and ddp.module is ddp.module
print("PASS ddp mlp", flush=True)
train_vs_reference(cnn, (1, 8, 8), 5, torch.optim.Adam, "cnn adam", lr=1e-2)
print("PASS ddp cnn", flush=True)

# Small buckets: many all-reduces in flight during backward.
torch.manual_seed(7)
m = mlp()
d = DDP(m, bucket_cap_mb=0.0001)
assert len(d.reducer.buckets) >= 2
x = torch.randn(B, 6) + R
d(x).sum().backward()
g = [p.grad.clone() for p in m.parameters()]
for p in m.parameters():
    p.grad = None
ref = [torch.zeros_like(p) for p in m.parameters()]
for r in range(W):
    m.zero_grad()
    (m(torch.randn(B, 6) * 0 + x - R + r)).sum().backward()  # rank r's input
    for a, p in zip(ref, m.parameters()):
        a += p.grad / W
for a, b in zip(g, ref):
    assert float((a - b).abs().max()) < 1e-5
print("PASS ddp small buckets", flush=True)

# no_sync: two local accumulations and one synchronised backward equal one big step.
torch.manual_seed(3)
model = mlp()
ddp = DDP(model)
ref = mlp()
ref.load_state_dict(model.state_dict())
data = batches((6,), 3, 3, seed=5)
loss_fn = nn.CrossEntropyLoss()
with ddp.no_sync():
    for x, y in data[:2]:
        loss_fn(ddp(x[R * B:(R + 1) * B]), y[R * B:(R + 1) * B]).backward()
x, y = data[2]
loss_fn(ddp(x[R * B:(R + 1) * B]), y[R * B:(R + 1) * B]).backward()
torch.optim.SGD(ddp.parameters(), lr=0.5).step()
for x, y in data:
    loss_fn(ref(x), y).backward()
torch.optim.SGD(ref.parameters(), lr=0.5).step()
close(model, ref, "no_sync")
print("PASS ddp no_sync", flush=True)

# find_unused_parameters with rank-dependent use and a shared weight used twice.
torch.manual_seed(11)
model = Heads()
ddp = DDP(model, find_unused_parameters=True)
ref = Heads()
ref.load_state_dict(model.state_dict())
data = batches((6,), 3, 2, seed=9)
for x, _ in data:
    ddp.zero_grad()
    ddp(x[R * B:(R + 1) * B], R == 0).square().mean().backward()
    ref.zero_grad()
    total = 0
    for r in range(W):
        total = total + ref(x[r * B:(r + 1) * B], r == 0).square().mean() / W
    total.backward()
    close(model, ref, "find_unused grads", tol=0)  # parameters unchanged: compare grads
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        if p.grad is not None and float((p.grad - q.grad).abs().max()) > 1e-6:
            raise AssertionError(f"rank {R}: find_unused: grad of {n} differs")
assert model.never.weight.grad is None and model.b.weight.grad is not None
print("PASS ddp find_unused", flush=True)

# Without find_unused_parameters an unused parameter is reported at the next forward.
ddp = DDP(Heads())
ddp(torch.randn(B, 6), False).sum().backward()
try:
    ddp(torch.randn(B, 6), False)
    raise AssertionError("unfinished reduction not reported")
except RuntimeError as e:
    assert "find_unused_parameters=True" in str(e)
print("PASS ddp unused error", flush=True)

# Buffers come from rank 0 at construction and before each forward.
bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
with torch.no_grad():
    bn[1].running_mean.fill_(float(R))
ddp = DDP(bn)
assert bn[1].running_mean.tolist() == [0.0] * 4
ddp(torch.randn(5, 3) + R).sum().backward()
print("PASS ddp buffers", flush=True)

# DistributedSampler with the real process group: disjoint shards that cover the data.
ds = TensorDataset(torch.arange(10 * W + 1))
for drop_last in (False, True):
    s = DistributedSampler(ds, shuffle=True, seed=4, drop_last=drop_last)
    s.set_epoch(2)
    mine = list(s)
    everyone = [None] * W
    dist.all_gather_object(everyone, mine)
    flat = [i for part in everyone for i in part]
    assert all(len(p) == len(s) for p in everyone)
    if drop_last:
        assert len(set(flat)) == len(flat) == 10 * W
    else:
        assert set(flat) == set(range(10 * W + 1)) and len(flat) == len(s) * W
print("PASS sampler", flush=True)

try:
    DDP(mlp(), device_ids=[0])
    raise AssertionError("device_ids accepted for a CPU module")
except ValueError:
    pass
dist.destroy_process_group()
print("PASS all", flush=True)
sys.exit(0)
