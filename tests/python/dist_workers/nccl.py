"""Run by mpiexec from test_distributed_nccl.py on a machine with CUDA devices and NCCL: the
NCCL backend's collectives on CUDA tensors against numpy, on every rank's own device (one
rank on a single GPU). Prints "PASS all" at the end; any failure raises (non-zero exit)."""

import sys
from datetime import timedelta

import numpy as np

import rtorch as torch
import rtorch.distributed as dist
from rtorch import nn
from rtorch.distributed import ReduceOp

backend = sys.argv[1] if len(sys.argv) > 1 else "nccl"
dist.init_process_group(backend, timeout=timedelta(seconds=60))
R, W = dist.get_rank(), dist.get_world_size()
DEV = torch.device("cuda", dist.get_node_local_rank(0) % torch.cuda.device_count())
torch.cuda.set_device(DEV.index)
assert dist.get_backend() == backend, dist.get_backend()
FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int64, torch.int32, torch.int8, torch.uint8]
N = 6


def values(rank, dtype, n=N, salt=0):
    i = np.arange(n)
    if dtype == torch.uint8:
        return (i * (rank + 1) + salt) % 7
    if dtype in INTS:
        return (i * (rank + 1) + salt) % 7 - 3
    return i * 0.5 + rank + salt * 0.25  # exact in every float type at these sizes


def make(rank, dtype, n=N, salt=0):
    return torch.tensor(values(rank, dtype, n, salt).tolist(), dtype=dtype, device=DEV)


def got(t):
    return t.cpu().to(torch.float64).numpy()


def check(t, expected, what):
    assert t.device == DEV, f"{what}: result moved to {t.device}"
    g, e = got(t), np.asarray(expected, dtype=np.float64)
    if not np.allclose(g, e, rtol=1e-2 if t.dtype in (torch.float16, torch.bfloat16) else 1e-6):
        raise AssertionError(f"rank {R}: {what}: got {g.tolist()}, expected {e.tolist()}")


def reference(op, dtype):
    stack = np.stack([values(r, dtype).astype(np.float64) for r in range(W)])
    if op == ReduceOp.SUM:
        return stack.sum(0)
    if op == ReduceOp.PRODUCT:
        return stack.prod(0)
    if op == ReduceOp.MIN:
        return stack.min(0)
    if op == ReduceOp.MAX:
        return stack.max(0)
    s = stack.sum(0) / W
    return np.trunc(s) if dtype in INTS else s


for dtype in FLOATS + INTS:
    ops = [ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX, ReduceOp.AVG]
    for op in ops:
        t = make(R, dtype)
        dist.all_reduce(t, op=op)
        check(t, reference(op, dtype), f"all_reduce {op} {dtype}")
    t = make(R, dtype)
    dist.broadcast(t, src=W - 1)
    check(t, values(W - 1, dtype), f"broadcast {dtype}")
    t = make(R, dtype)
    dist.reduce(t, dst=0, op=ReduceOp.SUM)
    check(t, reference(ReduceOp.SUM, dtype) if R == 0 else values(R, dtype), f"reduce {dtype}")
    outs = [torch.zeros(N, dtype=dtype, device=DEV) for _ in range(W)]
    dist.all_gather(outs, make(R, dtype))
    for r in range(W):
        check(outs[r], values(r, dtype), f"all_gather {dtype} [{r}]")
    out = torch.zeros(W, N, dtype=dtype, device=DEV)
    dist.all_gather_into_tensor(out, make(R, dtype))
    check(out, np.stack([values(r, dtype) for r in range(W)]), f"all_gather_into_tensor {dtype}")
    big = torch.tensor(
        np.concatenate([values(R, dtype, N, salt=k) for k in range(W)]).tolist(),
        dtype=dtype,
        device=DEV,
    )
    out = torch.zeros(N, dtype=dtype, device=DEV)
    dist.reduce_scatter_tensor(out, big)
    expected = sum(values(r, dtype, N, salt=R).astype(np.float64) for r in range(W))
    check(out, expected, f"reduce_scatter_tensor {dtype}")

# Non-contiguous tensors are staged and written back.
t = torch.arange(12.0, device=DEV).view(3, 4).t()
dist.all_reduce(t)
check(t, np.arange(12.0).reshape(3, 4).T * W, "all_reduce transposed")

# Asynchronous work and the barrier.
t = make(R, torch.float32)
work = dist.all_reduce(t, async_op=True)
assert work.wait() and work.is_completed()
check(t, reference(ReduceOp.SUM, torch.float32), "async all_reduce")
dist.barrier()

# gather / scatter (grouped send and receive).
lst = [torch.zeros(N, device=DEV) for _ in range(W)] if R == 0 else None
dist.gather(make(R, torch.float32), lst, dst=0)
if R == 0:
    for r in range(W):
        check(lst[r], values(r, torch.float32), f"gather [{r}]")
out = torch.zeros(N, device=DEV)
src_list = [make(r, torch.float32, salt=5) for r in range(W)] if R == 0 else None
dist.scatter(out, src_list, src=0)
check(out, values(R, torch.float32, salt=5), "scatter")

if W >= 2:
    nxt, prv = (R + 1) % W, (R - 1) % W
    buf = torch.zeros(N, device=DEV)
    ops = [dist.P2POp(dist.isend, make(R, torch.float32), nxt), dist.P2POp(dist.irecv, buf, prv)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    check(buf, values(prv, torch.float32), "batch_isend_irecv ring")
    if R == 0:
        dist.send(make(0, torch.float32, salt=9), dst=1)
    elif R == 1:
        buf = torch.zeros(N, device=DEV)
        assert dist.recv(buf, src=0) == 0
        check(buf, values(0, torch.float32, salt=9), "send/recv")

# all_to_all over lists: rank R sends [R*10 + j, ...] to rank j (one grouped send/recv).
ins = [torch.full((2, 3), float(R * 10 + j), device=DEV) for j in range(W)]
outs = [torch.zeros(6, device=DEV).view(3, 2).t() for _ in range(W)]  # non-contiguous
dist.all_to_all(outs, ins)
for r in range(W):
    check(outs[r], np.full((2, 3), r * 10 + R), f"all_to_all [{r}]")
work = dist.all_to_all([torch.zeros(1, device=DEV) for _ in range(W)],
                       [torch.ones(1, device=DEV) for _ in range(W)], async_op=True)
work.wait()

# Errors: PyTorch's types.
if backend == "nccl":
    try:
        dist.all_reduce(torch.ones(2))
        raise AssertionError("a CPU tensor on an NCCL-only group must fail")
    except RuntimeError as e:
        assert "No backend type associated with device type cpu" in str(e), e
else:
    t = torch.ones(2)
    dist.all_reduce(t)  # the CPU part of "cpu:mpi,cuda:nccl" goes to MPI
    check(t.to(DEV), [W, W], "all_reduce CPU tensor through MPI")
try:
    dist.all_reduce(torch.ones(2, dtype=torch.int16, device=DEV))
    raise AssertionError("int16 must be refused")
except TypeError as e:
    assert "all_reduce" in str(e) and "int16" in str(e), e

# DDP on CUDA parameters: gradients averaged over the ranks.
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(DEV)
ddp = nn.parallel.DistributedDataParallel(model, device_ids=[DEV.index])
x = torch.tensor(np.linspace(-1, 1, 4 * W * 3).reshape(W * 3, 4).tolist(), device=DEV)
ddp(x[R * 3 : (R + 1) * 3]).pow(2).sum().backward()
mine = [p.grad.clone() for p in model.parameters()]
ref = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(DEV)
ref.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
(ref(x).pow(2).sum() / W).backward()
for g, p in zip(mine, ref.parameters()):
    check(g, got(p.grad), "DDP gradient average")

dist.destroy_process_group()
print("PASS all")
