"""Collectives on picklable Python objects. Tensors inside the objects travel as raw bytes
next to the pickle (not pickled themselves) and come back as CPU tensors."""

import io
import pickle

import numpy as np

import rtorch as torch

from . import _common as c
from ._mpi import mpi, raw

__all__ = [
    "all_gather_object",
    "broadcast_object_list",
    "gather_object",
    "scatter_object_list",
]


class _Pickler(pickle.Pickler):
    def __init__(self, f, tensors):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.tensors = tensors

    def persistent_id(self, obj):
        if isinstance(obj, torch.Tensor) and type(obj) is torch.Tensor and obj.device.type == "cpu":
            self.tensors.append(obj.detach().contiguous())
            return (
                "tensor",
                len(self.tensors) - 1,
                str(obj.dtype),
                tuple(obj.shape),
                obj.requires_grad,
            )
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, data):
        super().__init__(f)
        self.data = data

    def persistent_load(self, pid):
        _, i, dtype, shape, requires_grad = pid
        t = self.data[i]
        return t.requires_grad_() if requires_grad else t


def _dtype(name):
    return getattr(torch, name.replace("torch.", ""))


def serialize(obj):
    """One uint8 array: 8-byte pickle length, the pickle, then each tensor's raw bytes."""
    tensors = []
    f = io.BytesIO()
    _Pickler(f, tensors).dump(obj)
    head = f.getvalue()
    parts = [np.frombuffer(np.int64(len(head)).tobytes(), np.uint8), np.frombuffer(head, np.uint8)]
    parts += [raw(t).view(np.uint8) for t in tensors]
    return np.concatenate(parts)


def deserialize(buf):
    n = int(np.frombuffer(buf[:8].tobytes(), np.int64)[0])
    head = buf[8 : 8 + n].tobytes()
    offset = 8 + n
    # First pass reads the tensor descriptions, then their bytes are cut from the tail.
    metas = []

    class _Collect(pickle.Unpickler):
        def persistent_load(self, pid):
            metas.append(pid)
            return None

    _Collect(io.BytesIO(head)).load()
    data = {}
    for _, i, dtype, shape, _rg in metas:
        dt = _dtype(dtype)
        t = torch.empty(shape, dtype=dt)
        nbytes = t.numel() * t.element_size()
        raw(t).view(np.uint8)[:] = buf[offset : offset + nbytes]
        offset += nbytes
        data[i] = t
    return _Unpickler(io.BytesIO(head), data).load()


def _group(group, op):
    pg = c.group_for(group, op)
    if pg is not None:
        pg.drain(op)  # after the asynchronous collectives already started, on every rank
    return pg


def _wait(pg, reqs, what):
    c.run(pg, what, reqs)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replaces ``object_list``'s entries on every rank with those of rank ``src``."""
    name = "broadcast_object_list"
    pg = _group(group, name)
    if pg is None:
        return
    r = c.root(pg, src, group_src, "src", name, default=0)
    MPI = mpi()
    size = np.zeros(1, np.int64)
    payload = None
    if pg.rank() == r:
        payload = serialize(list(object_list))
        size[0] = payload.size
    _wait(pg, [pg.comm.Ibcast(size, root=r)], name)
    if pg.rank() != r:
        payload = np.empty(int(size[0]), np.uint8)
    _wait(pg, [pg.comm.Ibcast([payload, MPI.BYTE], root=r)], name)
    if pg.rank() != r:
        got = deserialize(payload)
        if len(got) != len(object_list):
            raise ValueError(
                f"{name}: rank {r} sent {len(got)} objects but object_list has {len(object_list)}"
            )
        object_list[:] = got


def _allgather_bytes(pg, payload, name):
    MPI = mpi()
    sizes = np.zeros(pg.size(), np.int64)
    _wait(pg, [pg.comm.Iallgather(np.array([payload.size], np.int64), sizes)], name)
    out = np.empty(int(sizes.sum()), np.uint8)
    _wait(pg, [pg.comm.Iallgatherv([payload, MPI.BYTE], [out, sizes.tolist(), MPI.BYTE])], name)
    return _split_bytes(out, sizes)


def _split_bytes(out, sizes):
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return [out[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]


def all_gather_object(object_list, obj, group=None):
    """Fills ``object_list[i]`` with ``obj`` of rank ``i``."""
    name = "all_gather_object"
    pg = _group(group, name)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(
            f"{name}: object_list has {len(object_list)} entries, expected the group size "
            f"{pg.size()}"
        )
    for i, part in enumerate(_allgather_bytes(pg, serialize(obj), name)):
        object_list[i] = deserialize(part)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Collects ``obj`` of every rank into ``object_gather_list`` on rank ``dst``."""
    name = "gather_object"
    pg = _group(group, name)
    if pg is None:
        return
    MPI = mpi()
    r = c.root(pg, dst, group_dst, "dst", name, default=0)
    is_root = pg.rank() == r
    if is_root and (object_gather_list is None or len(object_gather_list) != pg.size()):
        raise ValueError(
            f"{name}: object_gather_list must have one entry per rank ({pg.size()}) on the "
            "destination rank"
        )
    payload = serialize(obj)
    sizes = np.zeros(pg.size(), np.int64)
    _wait(pg, [pg.comm.Igather(np.array([payload.size], np.int64), sizes, root=r)], name)
    out = np.empty(int(sizes.sum()) if is_root else 0, np.uint8)
    recv = [out, sizes.tolist(), MPI.BYTE] if is_root else None
    _wait(pg, [pg.comm.Igatherv([payload, MPI.BYTE], recv, root=r)], name)
    if is_root:
        for i, part in enumerate(_split_bytes(out, sizes)):
            object_gather_list[i] = deserialize(part)


def scatter_object_list(
    scatter_object_output_list, scatter_object_input_list=None, src=None, group=None, group_src=None
):
    """Rank ``src`` sends ``scatter_object_input_list[i]`` to rank ``i``, which stores it in
    ``scatter_object_output_list[0]``."""
    name = "scatter_object_list"
    pg = _group(group, name)
    if pg is None:
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError(
            "Expected argument scatter_object_output_list to be a list of size at least 1."
        )
    MPI = mpi()
    r = c.root(pg, src, group_src, "src", name, default=0)
    is_root = pg.rank() == r
    if is_root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(
                f"{name}: scatter_object_input_list must have one entry per rank ({pg.size()}) "
                "on the source rank"
            )
        parts = [serialize(o) for o in scatter_object_input_list]
        sizes = np.array([p.size for p in parts], np.int64)
        flat = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    mine = np.zeros(1, np.int64)
    _wait(pg, [pg.comm.Iscatter(sizes if is_root else None, mine, root=r)], name)
    out = np.empty(int(mine[0]), np.uint8)
    send = [flat, sizes.tolist(), MPI.BYTE] if is_root else None
    _wait(pg, [pg.comm.Iscatterv(send, [out, MPI.BYTE], root=r)], name)
    scatter_object_output_list[0] = deserialize(out)
