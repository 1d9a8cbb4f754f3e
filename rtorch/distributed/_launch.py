"""How to start ``mpiexec`` for a job on this machine: the command line and the environment
that make Open MPI (or MPICH's Hydra) work from a plain ``pip install`` — as root, with more
ranks than cores, over loopback only for a single node."""

import os
import re
import shutil
import subprocess

_VERSION_TEXT = {}


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


def _version_text(path):
    if path not in _VERSION_TEXT:
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _VERSION_TEXT[path] = out.lower()
    return _VERSION_TEXT[path]


def implementation(path):
    """``"openmpi"``, ``"mpich"`` or ``"unknown"`` for the ``mpiexec`` at ``path``."""
    low = _version_text(path)
    if "open mpi" in low or "open-mpi" in low or "openrte" in low or "prte" in low:
        return "openmpi"
    if "hydra" in low or "mpich" in low:
        return "mpich"
    return "unknown"


def openmpi_major(path):
    """The major version of the Open MPI whose ``mpiexec`` is at ``path`` (None if another
    MPI or unknown)."""
    if implementation(path) != "openmpi":
        return None
    m = re.search(r"(\d+)\.\d+", _version_text(path))
    return int(m.group(1)) if m else None


def _shared_memory_btl():
    # Open MPI 3 and 4 call their shared-memory transport "vader"; 5 renamed it "sm", and
    # naming a component that does not exist stops MPI_Init.
    try:
        major = openmpi_major(mpiexec_path())
    except RuntimeError:
        major = None
    return "vader" if major in (3, 4) else "sm"


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
        "OMPI_MCA_btl": f"self,{_shared_memory_btl()},tcp",
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
