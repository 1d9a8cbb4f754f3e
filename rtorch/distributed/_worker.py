"""Entry point of each rank started by ``rtorch.distributed.run``: exports torchrun's rank
variables from the MPI launcher's own, then runs the user's script or module as
``__main__``."""

import os
import runpy
import sys

from ._env import mpi_launch_info


def export_rank_variables():
    info = mpi_launch_info()
    if info is None:
        return
    rank, size, local_rank, local_size = info
    nnodes = int(os.environ.get("GROUP_WORLD_SIZE", "1") or 1)
    values = {
        "RANK": rank,
        "WORLD_SIZE": size,
        "LOCAL_RANK": local_rank,
        "LOCAL_WORLD_SIZE": local_size,
        "GROUP_RANK": rank // local_size if local_size else 0,
        "ROLE_RANK": rank,
        "ROLE_WORLD_SIZE": size,
        "GROUP_WORLD_SIZE": nnodes,
    }
    for k, v in values.items():
        os.environ[k] = str(v)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("--script", "--module", "--exec"):
        raise SystemExit(
            "usage: python -m rtorch.distributed._worker --script|--module|--exec TARGET [ARGS]"
        )
    export_rank_variables()
    kind, target, args = argv[0], argv[1], argv[2:]
    if kind == "--exec":
        os.execvp(target, [target, *args])
    sys.argv = [target, *args]
    if kind == "--module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
