"""The NCCL backend of rtorch.distributed. Without a GPU (CI): availability tells the truth,
init_process_group("nccl") raises PyTorch's RuntimeError, the routing of CPU and CUDA tensors
between the MPI and NCCL backends raises PyTorch's errors, and the native communicator's
entry points fail with Python exceptions (no crash). With a GPU and NCCL: real collectives
and DDP on CUDA tensors through mpiexec, values checked against numpy."""

import subprocess
import sys
import textwrap

import pytest

import rtorch as torch
import rtorch.distributed as dist
from rtorch import _C

HAS_GPU = torch.cuda.is_available()


def _nccl_loadable():
    return bool(_C._cuda_is_built()) and dist._nccl.available()


def test_is_nccl_available_tells_the_truth():
    assert dist.is_nccl_available() == _nccl_loadable()
    if not _C._cuda_is_built():
        assert not dist.is_nccl_available()
    if dist.is_nccl_available():
        major, minor, _ = dist._nccl.version()
        assert (major, minor) >= (2, 0)
    else:
        with pytest.raises(RuntimeError):
            _C._nccl_version()
    assert dist.is_backend_available("nccl") == (
        dist.is_nccl_available() and dist.is_mpi_available()
    )
    assert dist.get_default_backend_for_device("cuda:0") == "nccl"


@pytest.mark.skipif(HAS_GPU, reason="checks the error on machines without a GPU")
def test_init_process_group_nccl_without_gpu():
    for backend in ("nccl", "NCCL", "cpu:mpi,cuda:nccl"):
        with pytest.raises(RuntimeError, match="ProcessGroupNCCL is only supported with GPUs"):
            dist.init_process_group(backend)
    assert not dist.is_initialized()


def test_backend_strings_are_validated():
    for bad in ("cpu:nccl", "cuda:mpi", "tpu:mpi", "cpu:mpi,cpu:mpi", "cpu:mpi,nccl"):
        with pytest.raises(ValueError, match="Invalid backend"):
            dist.init_process_group(bad)
    assert not dist.is_initialized()


def test_native_communicator_fails_cleanly():
    # Every entry point gives a Python exception, never a crash, with or without a driver,
    # libnccl or a GPU.
    with pytest.raises(ValueError, match="128 bytes"):
        _C._NcclComm(b"short", 0, 1, 0)
    with pytest.raises(ValueError, match="not within a world"):
        _C._NcclComm(bytes(128), 3, 2, 0)
    if not HAS_GPU:
        with pytest.raises(RuntimeError):
            _C._NcclComm(bytes(128), 0, 1, 0)
    if not _nccl_loadable():
        for call in (_C._nccl_unique_id, _C._nccl_version, _C._nccl_group_start):
            with pytest.raises(RuntimeError):
                call()
    else:
        # The unique id is made on the host (its bootstrap address), GPU or not.
        try:
            uid = _C._nccl_unique_id()
        except RuntimeError as e:  # no usable network interface: an NCCL error, no crash
            assert "NCCL error" in str(e)
        else:
            assert isinstance(uid, bytes) and len(uid) == 128


def test_libs_finds_the_nccl_wheel(tmp_path, monkeypatch):
    from rtorch.cuda import _libs

    lib = tmp_path / "nvidia" / "nccl" / "lib"
    lib.mkdir(parents=True)
    (lib / "libnccl.so.2").write_bytes(b"")
    monkeypatch.setattr(_libs, "_nvidia_roots", lambda: [str(tmp_path / "nvidia")])
    assert _libs._find(_libs._NCCL, _libs.lib_dirs()) == str(lib / "libnccl.so.2")


ROUTING = textwrap.dedent(
    """
    import rtorch as torch, rtorch.distributed as dist
    from rtorch.distributed import _nccl

    class CudaLooking(torch.Tensor):
        # Stands for a CUDA tensor on a machine without one: only the routing reads it.
        @property
        def device(self):
            return torch.device("cuda", 0)

    dist.init_process_group("mpi")
    fake = CudaLooking(torch.ones(2))
    try:
        dist.all_reduce(fake)
    except RuntimeError as e:
        print("mpi+cuda:", e)
    dist.destroy_process_group()

    if not torch.cuda.is_available():
        # No GPU here: let the group be made to check how it routes CPU tensors.
        _nccl.check_usable = lambda: None
    dist.init_process_group("nccl")
    assert dist.get_backend() == "nccl"
    for name, call in (
        ("all_reduce", lambda: dist.all_reduce(torch.ones(2))),
        ("broadcast", lambda: dist.broadcast(torch.ones(2), src=0)),
        ("all_gather_into_tensor", lambda: dist.all_gather_into_tensor(torch.ones(2), torch.ones(2))),
        ("isend", lambda: dist.isend(torch.ones(2), dst=0)),
    ):
        try:
            call()
            print(name, "no error")
        except RuntimeError as e:
            print("nccl+cpu:", name, e)
    sub = dist.new_group([0])
    assert dist.get_backend(sub) == "nccl"
    dist.destroy_process_group()

    dist.init_process_group("cpu:mpi,cuda:nccl")
    t = torch.arange(4.0)
    dist.all_reduce(t)  # the CPU tensor goes to MPI
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert dist.get_backend() == "cpu:mpi,cuda:nccl"
    dist.barrier()
    dist.destroy_process_group()
    print("routing ok")
    """
)


def test_routing_between_mpi_and_nccl(tmp_path):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    from dist_launch import env

    e = env()
    for k in [k for k in e if k.startswith(("OMPI_COMM", "PMI", "PMIX"))]:
        del e[k]
    r = subprocess.run(
        [sys.executable, "-c", ROUTING],
        env=e,
        # Not the repository root: `-c` puts the working directory first on sys.path, and
        # the ranks must import the same rtorch as this process (the tree or a wheel).
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "routing ok" in r.stdout, out
    assert "mpi+cuda: all_reduce: tensor on cuda:0 given to the MPI backend" in r.stdout, out
    for name in ("all_reduce", "broadcast", "all_gather_into_tensor", "isend"):
        assert (
            f"nccl+cpu: {name} No backend type associated with device type cpu ({name})"
            in r.stdout
        ), out


needs_nccl = pytest.mark.skipif(
    not (HAS_GPU and _nccl_loadable()), reason="needs a CUDA device and libnccl"
)


@needs_nccl
@pytest.mark.parametrize("backend", ["nccl", "cpu:mpi,cuda:nccl"])
def test_nccl_collectives_on_gpu(backend):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    from dist_launch import mpiexec, passes

    # NCCL allows one rank per device: two ranks where two GPUs exist, else one.
    nproc = 2 if torch.cuda.device_count() >= 2 else 1
    r = mpiexec(nproc, "nccl.py", backend, timeout=240)
    passes(r, nproc)



def test_communicator_join_is_bounded_by_the_timeout(monkeypatch):
    # ncclCommInitRank blocks until every rank joins: a rank that died after the id exchange
    # must make the others fail within the group's timeout, not hang.
    import threading
    import types

    from rtorch.distributed import _nccl
    from rtorch.distributed._types import DistBackendError

    never = threading.Event()
    calls = []

    def hang(uid, rank, size, device):
        calls.append((uid, rank, size, device))
        never.wait(30)

    monkeypatch.setattr(_nccl, "_C", types.SimpleNamespace(_NcclComm=hang))
    with pytest.raises(DistBackendError, match=r"all_reduce: NCCL communicator initialisation "
                       r"timed out after 0\.2 s on rank 1"):
        _nccl._join_comm(b"x" * 128, 1, 2, 0, 0.2, "all_reduce")
    never.set()
    assert calls == [(b"x" * 128, 1, 2, 0)]

    def fail(*args):
        raise RuntimeError("NCCL error in comm_init_rank: invalid usage")

    monkeypatch.setattr(_nccl, "_C", types.SimpleNamespace(_NcclComm=fail))
    with pytest.raises(RuntimeError, match="invalid usage"):
        _nccl._join_comm(b"x" * 128, 0, 2, 0, 5.0, "broadcast")
    monkeypatch.setattr(_nccl, "_C", types.SimpleNamespace(_NcclComm=lambda *a: ("comm", a)))
    assert _nccl._join_comm(b"y", 0, 1, 3, 5.0, "barrier") == ("comm", (b"y", 0, 1, 3))
