"""``DistributedDataParallel``: one model replica per rank, gradients averaged over the ranks
during backward (see ``_reducer``), so every optimizer works unchanged."""

from contextlib import contextmanager

import rtorch as torch

from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


def _dist():
    import rtorch.distributed as dist

    return dist


class DistributedDataParallel(Module):
    """Data parallelism over a process group (PyTorch's ``DistributedDataParallel``).

    At construction the parameters and buffers of rank 0 are copied to every rank (after
    checking that all ranks hold the same model). Each forward (with gradients enabled and
    outside ``no_sync()``) prepares the averaging of the gradients that its backward will
    produce; buffers are re-broadcast from rank 0 before each forward when
    ``broadcast_buffers``. ``module`` is the wrapped model; state dict keys carry the
    ``module.`` prefix."""

    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        process_group=None,
        bucket_cap_mb=None,
        find_unused_parameters=False,
        check_reduction=False,
        gradient_as_bucket_view=False,
        static_graph=False,
        delay_all_reduce_named_params=None,
        param_to_hook_all_reduce=None,
        mixed_precision=None,
        device_mesh=None,
        skip_all_reduce_unused_params=False,
    ):
        super().__init__()
        dist = _dist()
        from ._reducer import Reducer

        for name, value in (
            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
            ("param_to_hook_all_reduce", param_to_hook_all_reduce),
            ("mixed_precision", mixed_precision),
            ("device_mesh", device_mesh),
        ):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel: {name} is not supported")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any "
                "parameter that requires a gradient."
            )
        devices = {p.device.type for p in module.parameters()}
        if device_ids is not None or output_device is not None:
            if devices == {"cpu"}:
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work "
                    "with single-device/multiple-device GPU modules or CPU modules, but got "
                    f"device_ids {device_ids}, output_device {output_device}, and module "
                    "parameters {device(type='cpu')}."
                )
        self.process_group = dist._group.resolve(process_group, "DistributedDataParallel")
        if self.process_group is None:
            raise RuntimeError("DistributedDataParallel: this rank is not in process_group")
        self.device_ids = None
        self.output_device = None
        average = None
        if devices == {"cuda"}:
            average = self._cuda_setup(module, device_ids, output_device)
        elif devices != {"cpu"}:
            raise RuntimeError(
                f"DistributedDataParallel: module parameters on {sorted(devices)}; a module "
                "must be all on the CPU (MPI backend) or all on one CUDA device (NCCL backend)"
            )
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._verify_same_model()
        self._sync_states(list(module.parameters()) + list(module.buffers()))
        pg = self.process_group
        self._comm = pg.comm.Dup()  # gradient traffic never interleaves with the user's
        self.reducer = Reducer(
            params,
            self._comm,
            pg.size(),
            pg.timeout_s(),
            self.bucket_bytes_cap,
            find_unused_parameters,
            pg.mark_broken,
            average,
        )

    def _cuda_setup(self, module, device_ids, output_device):
        """Checks a module on one CUDA device against ``device_ids``; returns the function
        that averages a gradient bucket over the ranks through the group's NCCL backend."""
        dist = _dist()
        pg = self.process_group
        indices = {p.device.index for p in module.parameters()}
        if len(indices) != 1:
            raise ValueError(
                "DistributedDataParallel: module parameters on several CUDA devices "
                f"{sorted(indices)}; one device per rank is supported"
            )
        index = indices.pop()
        if device_ids is not None:
            ids = [torch.device("cuda", d).index if isinstance(d, int) else torch.device(d).index
                   for d in device_ids]  # fmt: skip
            if ids != [index]:
                raise ValueError(
                    f"DistributedDataParallel: device_ids {list(device_ids)} must name the "
                    f"one device the module is on (cuda:{index})"
                )
        if pg._nccl is None:
            raise RuntimeError(
                "DistributedDataParallel: module parameters are on CUDA, but the process "
                f"group's backend is {pg._backend!r}, which handles CPU tensors only; use "
                "init_process_group('nccl') or 'cpu:mpi,cuda:nccl'"
            )
        self.device_ids = [index]
        self.output_device = index if output_device is None else output_device
        from rtorch.distributed import _nccl

        def average(buffer):
            _nccl.all_reduce(pg, buffer, dist.ReduceOp.AVG, False)

        return average

    def _verify_same_model(self):
        dist = _dist()
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in self.module.named_parameters()]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                if len(theirs) != len(everyone[0]):
                    detail = f"{len(theirs)} params, while rank 0 has {len(everyone[0])}"
                else:
                    k = next(j for j, (a, b) in enumerate(zip(theirs, everyone[0])) if a != b)
                    detail = f"parameter {theirs[k]}, while rank 0 has {everyone[0][k]}"
                raise RuntimeError(
                    f"DDP expects same model across all ranks, but Rank {r} has {detail}"
                )

    def _sync_states(self, tensors):
        """Copies rank 0's values of ``tensors`` to every rank, one broadcast per dtype."""
        dist = _dist()
        by_dtype = {}
        for t in tensors:
            if t.numel():
                by_dtype.setdefault(t.dtype, []).append(t)
        with torch.no_grad():
            for group in by_dtype.values():
                flat = torch.cat([t.detach().reshape(-1) for t in group])
                dist.broadcast(flat, src=self.process_group.global_rank(0), group=self.process_group)
                offset = 0
                for t in group:
                    n = t.numel()
                    t.copy_(flat[offset : offset + n].view(t.shape))
                    offset += n

    def forward(self, *inputs, **kwargs):
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = list(self.module.buffers())
            if buffers and self.process_group.size() > 1:
                self._sync_states(buffers)
        if self.device_ids:
            # As PyTorch: tensor arguments move to the module's device.
            inputs, kwargs = _to_device((inputs, kwargs), self.device_ids[0])
        out = self.module(*inputs, **kwargs)
        if torch.is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(out)
        else:
            self.reducer.active = False
        return out

    @contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally; the first backward after it
        averages the accumulated gradients."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    def _set_static_graph(self):
        self.static_graph = True

    def extra_repr(self):
        return ""


def _to_device(obj, index):
    if isinstance(obj, torch.Tensor):
        return obj if obj.is_cuda and obj.device.index == index else obj.to(f"cuda:{index}")
    if isinstance(obj, tuple):
        return tuple(_to_device(o, index) for o in obj)
    if isinstance(obj, list):
        return [_to_device(o, index) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_device(v, index) for k, v in obj.items()}
    return obj
