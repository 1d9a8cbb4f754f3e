"""Run by mpiexec from test_distributed_collectives.py: every collective x dtype against
numpy on 2 or 3 ranks. Prints one PASS line per check; any failure raises (non-zero exit)."""

import time
from datetime import timedelta

import numpy as np

import rtorch as torch
import rtorch.distributed as dist
from rtorch.distributed import ReduceOp

dist.init_process_group("mpi", timeout=timedelta(seconds=30))
R, W = dist.get_rank(), dist.get_world_size()
DTYPES = [
    torch.float32, torch.float64, torch.float16, torch.bfloat16,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool,
]
INTS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
N = 6


def values(rank, dtype, n=N, salt=0):
    i = np.arange(n)
    if dtype == torch.bool:
        return (i + rank + salt) % 3 == 0
    if dtype == torch.uint8:
        return ((i * (rank + 1) + salt) % 7).astype(np.int64)
    if dtype in INTS:
        return ((i * (rank + 1) + salt) % 7 - 3).astype(np.int64)
    return i * 0.5 + rank + salt * 0.25


def make(rank, dtype, n=N, salt=0):
    return torch.tensor(values(rank, dtype, n, salt).tolist(), dtype=dtype)


def as_np(t):
    if t.dtype == torch.bool:
        return t.numpy()
    return t.to(torch.float64).numpy() if t.dtype.is_floating_point else t.to(torch.int64).numpy()


def same(t, expected, what):
    got = as_np(t)
    expected = np.asarray(expected)
    if t.dtype in INTS:
        info = np.iinfo({torch.int8: np.int8, torch.uint8: np.uint8, torch.int16: np.int16,
                         torch.int32: np.int32, torch.int64: np.int64}[t.dtype])
        expected = expected.astype(info.dtype)  # C integer wrap-around, as MPI computes
    elif t.dtype in (torch.float16, torch.bfloat16):
        # Reduced in float32, rounded once to the 16-bit type.
        expected = as_np(torch.tensor(expected.tolist(), dtype=torch.float64).to(t.dtype))
    ok = np.array_equal(got.astype(np.float64), expected.astype(np.float64))
    if not ok:
        raise AssertionError(f"rank {R}: {what}: got {got.tolist()}, expected {expected.tolist()}")


def reference(op, dtype):
    stack = np.stack([values(r, dtype) for r in range(W)])
    if dtype == torch.bool:
        f = {ReduceOp.SUM: np.any, ReduceOp.MAX: np.any, ReduceOp.PRODUCT: np.all, ReduceOp.MIN: np.all}
        return f[op](stack, axis=0)
    if op == ReduceOp.SUM:
        return stack.sum(0)
    if op == ReduceOp.PRODUCT:
        return stack.prod(0)
    if op == ReduceOp.MIN:
        return stack.min(0)
    if op == ReduceOp.MAX:
        return stack.max(0)
    if op == ReduceOp.AVG:
        s = stack.sum(0)
        return s / W if dtype.is_floating_point else np.trunc(s / W)
    red = {ReduceOp.BAND: np.bitwise_and, ReduceOp.BOR: np.bitwise_or, ReduceOp.BXOR: np.bitwise_xor}[op]
    return red.reduce(stack.astype(np.int64), axis=0)


def check_all_reduce():
    for dtype in DTYPES:
        ops = [ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]
        if dtype != torch.bool:
            ops.append(ReduceOp.AVG)
        if dtype in INTS:
            ops += [ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR]
        for op in ops:
            t = make(R, dtype)
            dist.all_reduce(t, op=op)
            same(t, reference(op, dtype), f"all_reduce {op!r} {dtype}")
        # Non-contiguous (a transposed view) and async.
        base = make(R, dtype, 12).reshape(3, 4)
        view = base.t()
        work = dist.all_reduce(view, async_op=True)
        work.wait()
        assert work.is_completed() and work.is_success()
        want = np.stack([values(r, dtype, 12) for r in range(W)])
        want = want.any(0) if dtype == torch.bool else want.sum(0)
        same(base.reshape(-1), want, f"all_reduce non-contiguous {dtype}")
    # Several asynchronous collectives in flight, then synchronous ones: same order everywhere.
    ts = [make(R, torch.float64) * (k + 1) for k in range(3)]
    works = [dist.all_reduce(t, op=ReduceOp.SUM, async_op=True) for t in ts]
    b = make(R, torch.int32)
    works.append(dist.broadcast(b, src=0, async_op=True))
    out = torch.empty(W * N, dtype=torch.bfloat16)
    works.append(dist.all_gather_into_tensor(out, make(R, torch.bfloat16), async_op=True))
    works.append(dist.barrier(async_op=True))
    s = make(R, torch.float32)
    dist.all_reduce(s)  # waits for the ones above before it is issued
    for w in works:
        w.wait()
        assert w.is_completed() and w.is_success()
    for k, t in enumerate(ts):
        same(t, reference(ReduceOp.SUM, torch.float64) * (k + 1), "async all_reduce")
    same(b, values(0, torch.int32), "async broadcast")
    same(out, np.concatenate([values(r, torch.bfloat16) for r in range(W)]), "async all_gather")
    same(s, reference(ReduceOp.SUM, torch.float32), "sync after async")
    try:
        dist.all_reduce(torch.ones(2), op=ReduceOp.BAND)
        raise AssertionError("BAND on float accepted")
    except RuntimeError:
        pass
    check_all_reduce_paths()
    print("PASS all_reduce", flush=True)


def check_all_reduce_paths():
    """Synchronous all_reduce of contiguous tensors takes a lean path; ranks on it and ranks
    on the general one (a non-contiguous view, a late arrival) meet in the same collective."""
    want = np.stack([values(r, torch.float32, 12) for r in range(W)]).sum(0)
    if R == 0:
        t = make(R, torch.float32, 12).reshape(3, 4)
        dist.all_reduce(t)
        same(t.reshape(-1), want, "all_reduce lean path beside views")
    else:
        base = make(R, torch.float32, 12).reshape(3, 4).t().contiguous().t()
        assert not base.is_contiguous()
        dist.all_reduce(base)
        same(base.contiguous().reshape(-1), want, "all_reduce view beside the lean path")
    # A late rank: the others' quick polls give up and the deadline-aware wait finishes it.
    t = make(R, torch.float64)
    if R == 0:
        time.sleep(0.2)
    dist.all_reduce(t, op=ReduceOp.MAX)
    same(t, reference(ReduceOp.MAX, torch.float64), "all_reduce with a late rank")
    # A parameter (a leaf that requires grad) is reduced in place like any tensor, and the
    # same shape again reuses what the first call prepared.
    for _ in range(2):
        p = torch.full((5,), float(R + 1), requires_grad=True)
        dist.all_reduce(p, op=ReduceOp.AVG)
        same(p.detach(), np.full(5, (W + 1) / 2), "all_reduce AVG of a parameter")
    # A dtype that differs across ranks (one on the lean path, one through float32 staging)
    # is reported on every rank.
    bad = dist.new_group()
    try:
        dist.all_reduce(torch.ones(4, dtype=torch.float32 if R == 0 else torch.float16), group=bad)
        raise AssertionError("mismatched dtypes accepted")
    except dist.DistBackendError as e:
        assert "differ across ranks" in str(e), e


def check_broadcast_reduce():
    src = W - 1
    for dtype in DTYPES:
        t = make(R, dtype)
        dist.broadcast(t, src=src)
        same(t, values(src, dtype), f"broadcast {dtype}")
        t = make(R, dtype, 12).reshape(4, 3).t()  # non-contiguous receive buffer
        dist.broadcast(t, src=0)
        same(t.contiguous().reshape(-1), values(0, dtype, 12).reshape(4, 3).T.reshape(-1), f"broadcast nc {dtype}")
        dst = 1 % W
        t = make(R, dtype)
        dist.reduce(t, dst=dst, op=ReduceOp.MAX)
        same(t, reference(ReduceOp.MAX, dtype) if R == dst else values(R, dtype), f"reduce {dtype}")
    print("PASS broadcast reduce", flush=True)


def check_gathers():
    for dtype in DTYPES:
        # all_gather with a different size per rank.
        outs = [torch.empty(r + 2, dtype=dtype) for r in range(W)]
        dist.all_gather(outs, make(R, dtype, R + 2))
        for r in range(W):
            same(outs[r], values(r, dtype, r + 2), f"all_gather {dtype}")
        out = torch.empty(W, N, dtype=dtype)
        dist.all_gather_into_tensor(out, make(R, dtype))
        same(out.reshape(-1), np.concatenate([values(r, dtype) for r in range(W)]), f"all_gather_into_tensor {dtype}")
        if dtype != torch.bool:
            inp = make(R, dtype, N * W)
            out = torch.empty(N, dtype=dtype)
            dist.reduce_scatter_tensor(out, inp, op=ReduceOp.SUM)
            full = np.stack([values(r, dtype, N * W) for r in range(W)]).sum(0)
            same(out, full[R * N:(R + 1) * N], f"reduce_scatter_tensor {dtype}")
            lst = [make(R, dtype, N, salt=k) for k in range(W)]
            out = torch.empty(N, dtype=dtype)
            dist.reduce_scatter(out, lst, op=ReduceOp.SUM)
            same(out, np.stack([values(r, dtype, N, salt=R) for r in range(W)]).sum(0), f"reduce_scatter {dtype}")
        dst = W - 1
        gl = [torch.empty(N, dtype=dtype) for _ in range(W)] if R == dst else None
        dist.gather(make(R, dtype), gl, dst=dst)
        if R == dst:
            for r in range(W):
                same(gl[r], values(r, dtype), f"gather {dtype}")
        sl = [make(0, dtype, N, salt=k) for k in range(W)] if R == 0 else None
        out = torch.empty(N, dtype=dtype)
        dist.scatter(out, sl, src=0)
        same(out, values(0, dtype, N, salt=R), f"scatter {dtype}")
        inp = make(R, dtype, 2 * W)
        out = torch.empty(2 * W, dtype=dtype)
        dist.all_to_all_single(out, inp)
        want = np.concatenate([values(r, dtype, 2 * W)[2 * R:2 * R + 2] for r in range(W)])
        same(out, want, f"all_to_all_single {dtype}")
    print("PASS gathers", flush=True)


def check_p2p():
    for dtype in DTYPES:
        nxt, prv = (R + 1) % W, (R - 1) % W
        out = torch.empty(N, dtype=dtype)
        if R % 2 == 0:
            dist.send(make(R, dtype), dst=nxt)
            src = dist.recv(out, src=prv)
        else:
            src = dist.recv(out)
            dist.send(make(R, dtype), dst=nxt)
        assert src == prv, (src, prv)
        same(out, values(prv, dtype), f"send/recv {dtype}")
    out = torch.empty(3)
    ops = [dist.P2POp(dist.isend, torch.full((3,), float(R)), (R + 1) % W),
           dist.P2POp(dist.irecv, out, (R - 1) % W)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    same(out, [float((R - 1) % W)] * 3, "batch_isend_irecv")
    print("PASS p2p", flush=True)


def check_objects():
    objs = [{"rank": R, "t": torch.arange(R + 1), "h": torch.ones(2, dtype=torch.bfloat16) * R}, "x"] if R == 1 else [None, None]
    dist.broadcast_object_list(objs, src=1)
    assert objs[0]["rank"] == 1 and objs[1] == "x" and objs[0]["t"].tolist() == [0, 1]
    assert objs[0]["h"].dtype == torch.bfloat16 and objs[0]["h"].tolist() == [1.0, 1.0]
    got = [None] * W
    dist.all_gather_object(got, ("r", R, torch.full((R,), R)))
    assert [g[1] for g in got] == list(range(W)) and got[2 % W][2].tolist() == [2 % W] * (2 % W)
    gl = [None] * W if R == 0 else None
    dist.gather_object(R * 10, gl, dst=0)
    if R == 0:
        assert gl == [r * 10 for r in range(W)], gl
    out = [None]
    dist.scatter_object_list(out, [f"for {r}" for r in range(W)] if R == 0 else None, src=0)
    assert out[0] == f"for {R}"
    print("PASS objects", flush=True)


def check_groups_and_errors():
    assert dist.get_backend() == "mpi" and dist.is_initialized()
    sub = dist.new_group([0, W - 1])
    if R in (0, W - 1):
        assert dist.get_world_size(sub) == 2 and dist.get_rank(sub) == (0 if R == 0 else 1)
        t = torch.tensor([float(R)])
        dist.all_reduce(t, group=sub)
        same(t, [float(W - 1)], "subgroup all_reduce")
        assert dist.get_process_group_ranks(sub) == [0, W - 1]
    else:
        assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    dist.barrier()
    # Mismatched shapes are reported on every rank (on a separate group: it is unusable after).
    bad = dist.new_group()
    try:
        dist.all_reduce(torch.ones(3 + R), group=bad)
        raise AssertionError("mismatched shapes accepted")
    except dist.DistBackendError as e:
        assert "differ across ranks" in str(e), e
    try:
        dist.all_reduce(torch.ones(2), group=bad)
        raise AssertionError("broken group accepted work")
    except RuntimeError as e:
        assert "unusable" in str(e)
    bad = dist.new_group()
    work = dist.all_reduce(torch.ones(4 + R), group=bad, async_op=True)
    try:
        work.wait()
        raise AssertionError("mismatched shapes accepted (async)")
    except dist.DistBackendError as e:
        assert "differ across ranks" in str(e), e
    try:
        dist.all_reduce(torch.ones(2), group=bad)
        raise AssertionError("broken group accepted work")
    except RuntimeError as e:
        assert "unusable" in str(e)
    try:
        dist.init_process_group("mpi")
        raise AssertionError("second init accepted")
    except ValueError as e:
        assert "twice" in str(e)
    try:
        dist.all_gather_into_tensor(torch.empty(3), torch.empty(2))
        raise AssertionError("bad output size accepted")
    except ValueError:
        pass
    print("PASS groups errors", flush=True)


def check_extras():
    if R == 0:
        dist.send_object_list([{"to": 1}, torch.arange(3)], dst=1)
    elif R == 1:
        got = [None, None]
        assert dist.recv_object_list(got) == 0
        assert got[0] == {"to": 1} and got[1].tolist() == [0, 1, 2]
    dist.monitored_barrier(timeout=timedelta(seconds=20))
    # Only rank 0 enters: it names every rank that did not arrive.
    if R == 0:
        try:
            dist.monitored_barrier(timeout=timedelta(seconds=0.3), wait_all_ranks=True)
            raise AssertionError("missing ranks not reported")
        except RuntimeError as e:
            names = ", ".join(str(r) for r in range(1, W))
            assert f"Ranks {names} failed to pass monitoredBarrier in 300 ms" in str(e), e
    dist.barrier()
    mine, groups = dist.new_subgroups(group_size=1)
    assert len(groups) == 1 and dist.get_world_size(mine) == 1
    assert dist.get_pg_count() >= 3
    assert dist.supports_complex(ReduceOp.SUM) and not dist.supports_complex(ReduceOp.MAX)
    assert dist.get_node_local_rank() == R
    print("PASS extras", flush=True)


check_all_reduce()
check_extras()
check_broadcast_reduce()
check_gathers()
check_p2p()
check_objects()
check_groups_and_errors()
dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
dist.init_process_group("mpi")
t = torch.ones(1)
dist.all_reduce(t)
same(t, [float(W)], "after re-init")
dist.destroy_process_group()
print("PASS all", flush=True)
