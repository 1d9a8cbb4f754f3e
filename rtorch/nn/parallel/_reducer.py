"""Gradient averaging for DistributedDataParallel.

Parameters are grouped into buckets (reverse registration order, as gradients usually
arrive; the first bucket small so communication starts early). Each parameter's gradient
hook runs once per backward with the parameter's whole gradient (with
``find_unused_parameters``, the autograd graph from the forward's outputs is walked to
learn which parameters get none); when every parameter of a bucket is complete the bucket
is packed into one flat buffer and its all-reduce starts (non-blocking, in bucket order on
every rank) while backward goes on. The hook of the last parameter waits for all buckets
and writes the averages into ``.grad``, so they are in place when ``backward()`` returns.
"""

import time

import numpy as np

import rtorch as torch
from rtorch.distributed._comm_thread import CommThread
from rtorch.distributed._mpi import HALF, mpi, raw

_FIRST_BUCKET_BYTES = 1024 * 1024

UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss."
)


def param_key(t):
    return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.dtype))


class _Bucket:
    def __init__(self, indices, params):
        self.indices = indices
        first = params[indices[0]]
        dtype = first.dtype
        total = sum(params[i].numel() for i in indices)
        if first.is_cuda:
            # NCCL reduces 16-bit floats natively, on the parameters' device.
            self.buffer_dtype = dtype
            self.buffer = torch.zeros(total, dtype=dtype, device=first.device)
            self.array = None
        else:
            self.buffer_dtype = torch.float32 if dtype in HALF else dtype
            self.buffer = torch.zeros(total, dtype=self.buffer_dtype)
            self.array = raw(self.buffer)
        self.views = {}
        offset = 0
        for i in indices:
            n = params[i].numel()
            self.views[i] = self.buffer[offset : offset + n].view(params[i].shape)
            offset += n


def build_buckets(params, cap_bytes, first_cap_bytes=_FIRST_BUCKET_BYTES):
    """Indices of ``params`` grouped into buckets: reverse order, one dtype per bucket."""
    buckets, open_ = [], {}
    for i in reversed(range(len(params))):
        p = params[i]
        cap = min(first_cap_bytes, cap_bytes) if not buckets else cap_bytes
        cur = open_.setdefault(p.dtype, [[], 0])
        cur[0].append(i)
        cur[1] += p.numel() * p.element_size()
        if cur[1] >= cap:
            buckets.append(cur[0])
            del open_[p.dtype]
    buckets += [v[0] for v in open_.values() if v[0]]
    return [_Bucket(b, params) for b in buckets]


class Reducer:
    def __init__(
        self, params, comm, world_size, timeout_s, cap_bytes, find_unused, on_error, average=None
    ):
        """``average``: for CUDA parameters, a function that replaces a device buffer by its
        mean over the ranks (NCCL, queued on the device's stream); CPU buckets go to MPI."""
        self.params = params
        self.average = average
        self.on_error = on_error
        self.comm = comm
        self.world = world_size
        self.timeout_s = timeout_s
        self.find_unused = find_unused
        self.buckets = build_buckets(params, cap_bytes)
        self.bucket_of = {}
        for b, bucket in enumerate(self.buckets):
            for i in bucket.indices:
                self.bucket_of[i] = b
        self.index_of = {}
        for i, p in enumerate(params):
            key = param_key(p)
            if key in self.index_of:
                raise RuntimeError(
                    "DistributedDataParallel: two parameters share the same memory "
                    f"({list(p.shape)}); register shared weights as one Parameter"
                )
            self.index_of[key] = i
        self.active = False
        self.thread = CommThread("rtorch-ddp-allreduce")
        self.handles = [p.register_hook(self._hook_for(i)) for i, p in enumerate(params)]

    def _hook_for(self, i):
        def hook(grad):
            return self.on_grad(i, grad)

        hook.__name__ = "ddp_gradient_hook"
        return hook

    # ---- per iteration ---------------------------------------------------------------------

    def prepare(self, outputs):
        """Called after a forward whose gradients must be averaged."""
        if self.active and (any(self.fired) or self.next_launch):
            self.active = False
            raise RuntimeError(UNFINISHED)
        n = len(self.params)
        # A leaf's hook runs once per backward with its whole gradient, so each used
        # parameter is expected once. Only find_unused_parameters pays for walking the graph
        # to learn which are used; otherwise a parameter without gradient is never ready and
        # the next forward reports it.
        if self.find_unused:
            uses = find_used(outputs, self.index_of)
            self.expected = [1 if i in uses else 0 for i in range(n)]
        else:
            self.expected = [1] * n
        self.used = np.array(self.expected, dtype=np.uint8)
        self.fired = [0] * n
        self.remaining = [
            sum(1 for i in b.indices if self.expected[i] > 0) for b in self.buckets
        ]
        self.jobs = []
        self.next_launch = 0
        self.current = None
        self.active = True
        MPI = mpi()
        if self.find_unused:
            self.jobs.append(self.thread.submit(self._allreduce(self.used, MPI.MAX)))
        self._launch_ready()

    def on_grad(self, i, grad):
        if not self.active:
            return None
        self.fired[i] += 1
        if self.fired[i] < self.expected[i]:
            return None
        if self.fired[i] > self.expected[i]:
            self.active = False
            raise RuntimeError(
                "DistributedDataParallel: a parameter received more gradients than the "
                "forward's graph has uses of it (was backward run twice on one forward?)"
            )
        b = self.bucket_of[i]
        self.remaining[b] -= 1
        self.current = (i, grad)
        try:
            if self.remaining[b] == 0:
                self._launch_ready()
            if self.next_launch == len(self.buckets):
                return self._finalize()
        finally:
            self.current = None
        return None

    def _allreduce(self, array, op):
        comm, MPI = self.comm, mpi()
        return lambda: comm.Allreduce(MPI.IN_PLACE, array, op=op)

    def _launch_ready(self):
        MPI = mpi()
        while self.next_launch < len(self.buckets) and self.remaining[self.next_launch] == 0:
            bucket = self.buckets[self.next_launch]
            self._pack(bucket)
            if bucket.array is None:
                self.average(bucket.buffer)
            else:
                self.jobs.append(self.thread.submit(self._allreduce(bucket.array, MPI.SUM)))
            self.next_launch += 1

    def _pack(self, bucket):
        with torch.no_grad():
            for i in bucket.indices:
                view = bucket.views[i]
                g = self.params[i].grad
                if self.current is not None and self.current[0] == i:
                    # This gradient is not accumulated yet: the bucket gets grad + incoming.
                    view.copy_(self.current[1])
                    if g is not None:
                        view.add_(g)
                elif g is not None:
                    view.copy_(g)
                else:
                    view.zero_()

    def _finalize(self):
        self.active = False
        try:
            self.thread.wait(
                self.jobs,
                time.monotonic() + self.timeout_s,
                self.timeout_s,
                "DistributedDataParallel gradient all_reduce",
            )
        except Exception as e:
            self.on_error(e)
            raise
        current, _ = self.current
        result = None
        with torch.no_grad():
            for bucket in self.buckets:
                if bucket.array is not None:
                    bucket.array /= self.world
                for i in bucket.indices:
                    p = self.params[i]
                    avg = bucket.views[i]
                    if i == current:
                        # Returned from the hook into an emptied .grad: stored as it is.
                        p.grad = None
                        result = avg.to(p.dtype).clone()
                    elif p.grad is not None:
                        p.grad.copy_(avg)
                    elif self.used[i]:
                        p.grad = avg.to(p.dtype).clone()
        return result

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []
        self.thread.close()


def find_used(outputs, index_of):
    """Indices of the parameters that backward from the tensors in ``outputs`` reaches."""
    used = set()
    roots = []
    for t in _tensors(outputs):
        if t.grad_fn is not None:
            roots.append(t.grad_fn)
        elif t.requires_grad:
            i = index_of.get(param_key(t))
            if i is not None:
                used.add(i)
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            var = getattr(nxt, "variable", None)
            if var is not None:
                i = index_of.get(param_key(var))
                if i is not None:
                    used.add(i)
                continue
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return used


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from _tensors(getattr(obj, name))
