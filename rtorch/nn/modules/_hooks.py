"""Hook handles returned by the Module.register_*_hook methods."""

import itertools
import weakref

__all__ = ["RemovableHandle", "add_hook"]

_handle_ids = itertools.count()


class RemovableHandle:
    """Removes one hook id from every table it was entered in.

    Tables are held weakly so a handle never keeps a dead module's hooks alive.
    """

    def __init__(self, hooks_dict, *, extra_dict=None):
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self._tables = [weakref.ref(t) for t in (hooks_dict, *(extra_dict or ()))]
        self.id = next(_handle_ids)

    def remove(self):
        for ref in self._tables:
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def add_hook(table, hook, *, prepend=False, flags=()):
    """Enter `hook` in `table`.

    `flags` holds (dict, enabled) pairs: enabled dicts mark the hook id as True, and the
    handle clears the id from all of them on removal.
    """
    handle = RemovableHandle(table, extra_dict=[flag_table for flag_table, _ in flags])
    table[handle.id] = hook
    for flag_table, enabled in flags:
        if enabled:
            flag_table[handle.id] = True
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle
