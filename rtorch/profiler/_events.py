"""Profiler results: events, their per-name averages, PyTorch's summary table and the Chrome
trace format."""

from __future__ import annotations

import json
import os

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList"]

_KIND_CATEGORY = {"op": "cpu_op", "backward": "cpu_op", "user": "user_annotation"}


class FunctionEvent:
    """One recorded range: an op, the gradient rule of an autograd node, or a user range.

    Times are in microseconds; memory in bytes (allocated while the range was open, not
    freed memory, which rtorch does not track per op).
    """

    def __init__(self, id, parent, name, kind, thread, start_ns, end_ns, shapes, alloc):
        self.id = id
        self._parent_id = parent
        self.name = name
        self.key = name
        self.kind = kind
        self.thread = thread
        self.time_range = (start_ns / 1000.0, end_ns / 1000.0)
        self.input_shapes = [list(s) for s in shapes]
        self.cpu_memory_usage = int(alloc)
        self.cpu_parent = None
        self.cpu_children = []
        self.count = 1
        self.device_type = "CPU"
        self.is_user_annotation = kind == "user"

    @property
    def cpu_time_total(self):
        return self.time_range[1] - self.time_range[0]

    @property
    def cpu_time(self):
        return self.cpu_time_total

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    # No device activity is recorded; these exist so that code written for PyTorch's
    # GPU columns keeps working (and sorts them as zero).
    device_time_total = self_device_time_total = 0.0
    cuda_time_total = self_cuda_time_total = 0.0
    device_memory_usage = self_device_memory_usage = 0

    def __repr__(self):
        return (
            f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
            f"cpu_time_total={self.cpu_time_total:.3f}us input_shapes={self.input_shapes}>"
        )


class FunctionEventAvg:
    """The events of one key (a name, or a name and input shapes) added up."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.is_user_annotation = False

    def add(self, ev):
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        self.cpu_memory_usage += ev.cpu_memory_usage
        self.self_cpu_memory_usage += ev.self_cpu_memory_usage
        self.is_user_annotation = ev.is_user_annotation
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    device_time_total = self_device_time_total = 0.0
    cuda_time_total = self_cuda_time_total = 0.0
    device_memory_usage = self_device_memory_usage = 0

    def __repr__(self):
        return (
            f"<FunctionEventAvg key={self.key} count={self.count} "
            f"self_cpu_time_total={self.self_cpu_time_total:.3f}us "
            f"cpu_time_total={self.cpu_time_total:.3f}us>"
        )


def build_events(raw):
    """FunctionEvents from the extension's tuples, linked to their parents, by start time."""
    events = [FunctionEvent(*r) for r in raw]
    by_id = {e.id: e for e in events}
    events.sort(key=lambda e: (e.time_range[0], -e.time_range[1]))
    for e in events:
        p = by_id.get(e._parent_id)
        if p is not None:
            e.cpu_parent = p
            p.cpu_children.append(e)
    return EventList(events, profile_memory=any(e.cpu_memory_usage for e in events))


def _fmt_time(us):
    if abs(us) >= 1e6:
        return f"{us / 1e6:.3f}s"
    if abs(us) >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _fmt_mem(b):
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(b) >= size:
            return f"{b / size:.2f} {unit}"
    return f"{int(b)} b"


def _pct(part, whole):
    return f"{100.0 * part / whole:.2f}%" if whole else "0.00%"


_SORT_KEYS = {
    "cpu_time",
    "cpu_time_total",
    "self_cpu_time_total",
    "count",
    "cpu_memory_usage",
    "self_cpu_memory_usage",
    "device_time",
    "device_time_total",
    "self_device_time_total",
    "cuda_time",
    "cuda_time_total",
    "self_cuda_time_total",
    "device_memory_usage",
    "self_device_memory_usage",
    "cuda_memory_usage",
    "self_cuda_memory_usage",
}


class EventList(list):
    """A list of events (or of averages) with PyTorch's summary operations."""

    def __init__(self, *args, profile_memory=False, with_shapes=False):
        super().__init__(*args)
        self._profile_memory = profile_memory
        self._with_shapes = with_shapes

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        groups = {}
        for e in self:
            shapes = str(e.input_shapes) if group_by_input_shape else None
            k = (e.key, shapes)
            if k not in groups:
                groups[k] = FunctionEventAvg(e.key, shapes)
            groups[k].add(e)
        return EventList(
            groups.values(),
            profile_memory=self._profile_memory,
            with_shapes=group_by_input_shape,
        )

    def total_average(self):
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(
        self,
        sort_by=None,
        row_limit=100,
        max_src_column_width=75,
        max_name_column_width=55,
        max_shapes_column_width=80,
        header=None,
        top_level_events_only=False,
    ):
        """PyTorch's summary table: one row per entry, percentages of the total self time."""
        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(
                    f"table(): unknown sort_by {sort_by!r}; expected one of {sorted(_SORT_KEYS)}"
                )
            attr = sort_by.replace("cuda", "device")
            rows.sort(key=lambda e: getattr(e, attr, 0.0) or 0.0, reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total_self = self.self_cpu_time_total
        name_w = min(max([len("Name")] + [len(e.key) for e in rows]) + 4, max_name_column_width)
        cols = [("Name", name_w)]
        cols += [(h, 12) for h in ("Self CPU %", "Self CPU", "CPU total %", "CPU total")]
        cols += [("CPU time avg", 12)]
        if self._profile_memory:
            cols += [("CPU Mem", 12), ("Self CPU Mem", 12)]
        cols += [("# of Calls", 12)]
        if self._with_shapes:
            shape_w = min(
                max([len("Input Shapes")] + [len(str(e.input_shapes)) for e in rows]) + 2,
                max_shapes_column_width,
            )
            cols += [("Input Shapes", shape_w)]
        rule = "".join("-" * w + "  " for _, w in cols)

        def line(cells):
            out = []
            for (_, w), c in zip(cols, cells):
                c = str(c)
                if len(c) > w:
                    c = c[: w - 3] + "..."
                out.append(c.rjust(w) + "  ")
            return "".join(out)

        lines = [rule]
        if header is not None:
            lines = ["=" * len(rule), header] + lines
        lines += [line([h for h, _ in cols]), rule]
        for e in rows:
            cells = [
                e.key,
                _pct(e.self_cpu_time_total, total_self),
                _fmt_time(e.self_cpu_time_total),
                _pct(e.cpu_time_total, total_self),
                _fmt_time(e.cpu_time_total),
                _fmt_time(e.cpu_time_total / max(e.count, 1)),
            ]
            if self._profile_memory:
                cells += [_fmt_mem(e.cpu_memory_usage), _fmt_mem(e.self_cpu_memory_usage)]
            cells += [e.count]
            if self._with_shapes:
                cells += [e.input_shapes]
            lines.append(line(cells))
        lines.append(rule)
        lines.append(f"Self CPU time total: {_fmt_time(total_self)}")
        return "\n".join(lines) + "\n"

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Writes the events in the Chrome trace-event format (open it in Perfetto or
        chrome://tracing): one complete ("X") event per range, timestamps in microseconds."""
        pid = os.getpid()
        trace = []
        threads = set()
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise TypeError("export_chrome_trace needs events, not key averages")
            threads.add(e.thread)
            args = {"External id": e.id}
            if e.input_shapes:
                args["Input Dims"] = e.input_shapes
            if e.cpu_memory_usage:
                args["Allocated Bytes"] = e.cpu_memory_usage
            trace.append(
                {
                    "ph": "X",
                    "cat": _KIND_CATEGORY[e.kind],
                    "name": e.name,
                    "pid": pid,
                    "tid": e.thread,
                    "ts": round(e.time_range[0], 3),
                    "dur": round(e.cpu_time_total, 3),
                    "args": args,
                }
            )
        for t in sorted(threads):
            trace.append(
                {"ph": "M", "name": "thread_name", "pid": pid, "tid": t, "args": {"name": f"thread {t}"}}
            )
        trace.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "rtorch"}})
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)
        return path

