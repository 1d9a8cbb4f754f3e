"""``torch.utils.data._utils``: programs import collate helpers (``default_collate_fn_map``
to register their own types, ``collate``), ``get_worker_info`` and ``pin_memory`` from here.

The submodules are the DataLoader's own modules under their PyTorch names, so a type
registered in ``_utils.collate.default_collate_fn_map`` is seen by ``default_collate``.
"""

import sys

from .. import _collate as collate
from .. import _pin_memory as pin_memory
from .. import _worker as worker
from .._worker import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper

IS_WINDOWS = sys.platform == "win32"
HAS_NUMPY = True  # rtorch depends on numpy

for _name, _module in (("collate", collate), ("pin_memory", pin_memory), ("worker", worker)):
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module
