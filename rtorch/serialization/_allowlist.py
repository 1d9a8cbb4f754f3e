"""Which globals a checkpoint may name when loaded with ``weights_only=True``.

The default list covers what state_dicts and optimizer states are made of: tensors and
their storages, containers, numbers, ``Size``/``device``/dtypes. Anything else must be
allowed explicitly with :func:`add_safe_globals` or the :func:`safe_globals` context.
"""

import collections
import contextlib
import threading

_user_allowed = {}  # "module.qualname" -> object
_lock = threading.Lock()

def _latin1_bytes(text, encoding="latin1"):
    """How protocol-2 pickles spell ``bytes``; nothing else is encoded through it."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise TypeError("only latin-1 encoded bytes may be rebuilt")
    return text.encode("latin1")


BUILTINS = {
    "_codecs.encode": _latin1_bytes,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.bytearray": bytearray,
    "builtins.complex": complex,
}


def _qualified_names(obj):
    """The names ``obj`` may be spelled by in a checkpoint (ours and PyTorch's)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not module or not qualname:
        raise TypeError(
            f"add_safe_globals: {obj!r} has no module and name; pass (obj, 'module.name')"
        )
    names = [f"{module}.{qualname}"]
    if module == "rtorch" or module.startswith("rtorch."):
        names.append(f"{module[1:]}.{qualname}")  # the same object as PyTorch names it
    return names


def _entries(safe_globals):
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError(f"safe_globals must be a list of globals, got {type(safe_globals).__name__}")
    for item in safe_globals:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], str):
                raise TypeError("safe_globals entries must be objects or (object, 'module.name')")
            yield item[1], item[0]
        else:
            for name in _qualified_names(item):
                yield name, item


def add_safe_globals(safe_globals):
    """Allows the given classes/functions in ``weights_only`` loads, process-wide."""
    with _lock:
        _user_allowed.update(_entries(safe_globals))


def get_safe_globals():
    """The globals added with :func:`add_safe_globals` (beyond the default list)."""
    with _lock:
        seen, out = set(), []
        for obj in _user_allowed.values():
            if id(obj) not in seen:
                seen.add(id(obj))
                out.append(obj)
        return out


def clear_safe_globals():
    with _lock:
        _user_allowed.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """Allows the given globals inside the ``with`` block only."""
    added = dict(_entries(safe_globals))
    with _lock:
        previous = {name: _user_allowed[name] for name in added if name in _user_allowed}
        _user_allowed.update(added)
    try:
        yield
    finally:
        with _lock:
            for name in added:
                _user_allowed.pop(name, None)
            _user_allowed.update(previous)


def user_allowed(qualified):
    with _lock:
        return _user_allowed.get(qualified)
