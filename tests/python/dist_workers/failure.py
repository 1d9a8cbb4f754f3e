"""Run by mpiexec from test_distributed_failures.py: rank 1 dies in the middle of training;
the survivors must fail (with a DistBackendError naming the timeout) instead of hanging.

argv[1]: "collective" (plain all_reduce loop) or "ddp" (backward of a DDP model)."""

import os
import sys
import time
from datetime import timedelta

import rtorch as torch
import rtorch.distributed as dist
from rtorch import nn
from rtorch.nn.parallel import DistributedDataParallel as DDP

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=timedelta(seconds=3))
R = dist.get_rank()
model = DDP(nn.Linear(4, 2)) if mode == "ddp" else None
print(f"rank {R} ready", flush=True)
for step in range(100):
    if R == 1 and step == 3:
        os._exit(7)  # dies without a word, as a crashed or killed process would
    started = time.monotonic()
    try:
        if mode == "ddp":
            model(torch.randn(3, 4)).sum().backward()
        else:
            dist.all_reduce(torch.ones(1000))
    except RuntimeError as e:
        took = time.monotonic() - started
        print(f"rank {R} REPORTED after {took:.1f}s: {type(e).__name__}: {e}", flush=True)
        sys.exit(3)
print(f"rank {R} finished without noticing", flush=True)
