"""Crash/panic fuzz of the public ops: every call must return or raise an ordinary Python
exception; a Rust panic (PanicException), a crash (segfault, abort) or a hang fails.

The cases come from Hypothesis strategies in ``fuzz_ops.py`` (random shapes up to rank 6 with
zero-size dims, all dtypes, non-contiguous / expanded / offset views, extreme arguments). Each
op group runs in a child process (``fuzz_ops.py --group G``) so that a crash cannot take pytest
down: the child logs every case before running it, and after a crash or a hang this test
reads the last logged case, records it and restarts the child at the next op.

Reproducible: Hypothesis runs derandomized (fixed seed). Knobs (environment):

- ``RTORCH_FUZZ=smoke`` (5 examples per op, seconds), ``ci`` (default) or ``long``;
  ``RTORCH_FUZZ_EXAMPLES=N`` overrides the count. Only the smoke run:
  ``RTORCH_FUZZ=smoke pytest tests/python/test_fuzz.py``.
- ``RTORCH_FUZZ_LAYOUT=1`` also runs the layout-consistency check (results on strided inputs
  must equal results on contiguous copies), which is off in CI.
- ``RTORCH_FUZZ_CASE_TIMEOUT`` (seconds before a case counts as a hang, default 8),
  ``RTORCH_FUZZ_GROUP_BUDGET`` (seconds per group after which the remaining ops are skipped
  with a warning, default max(40, examples)), ``RTORCH_FUZZ_MEM_GB`` (address-space limit of
  the child, default 4 GiB, so that a runaway allocation fails instead of eating the machine).

A failure prints each distinct problem with a one-line repro, runnable with
``python tests/python/fuzz_ops.py --repro '<repro>'``.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import fuzz_ops
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "fuzz_ops.py")
MODE = os.environ.get("RTORCH_FUZZ", "ci")
EXAMPLES = int(os.environ.get("RTORCH_FUZZ_EXAMPLES") or {"smoke": 5, "long": 400}.get(MODE, 40))
CASE_TIMEOUT = float(os.environ.get("RTORCH_FUZZ_CASE_TIMEOUT", "8"))
# Ops still waiting when a group has run this long are skipped (with a warning) to bound CI
# time on a slow machine; the hard limit kills a stuck group.
GROUP_BUDGET = float(os.environ.get("RTORCH_FUZZ_GROUP_BUDGET") or max(40, EXAMPLES))
GROUP_TIMEOUT = float(os.environ.get("RTORCH_FUZZ_GROUP_TIMEOUT") or 6 * GROUP_BUDGET)
MAX_RESTARTS = 25  # crashes recorded per group before giving up on the rest of it
GROUPS = list(fuzz_ops.GROUPS)


def _read(path):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _last_case(log_text):
    cases = re.findall(r"^CASE (\S+) (\d+): (.*)$", log_text, flags=re.M)
    return cases[-1] if cases else None


def _crash_detail(log_text):
    """What the log says after the last CASE line (abort message, fatal signal, timeout)."""
    idx = log_text.rfind("\nCASE ")
    tail = log_text[idx + 1:].splitlines()[1:] if idx >= 0 else log_text.splitlines()
    keep = [ln for ln in tail if ln.strip() and not re.match(r"\s+(\d+:|at )|note: ", ln)]
    return "\n".join(keep[:12])


def _merge(into, new):
    """Adds failures from another child run, merging repeats of the same panic."""
    for f in new:
        same = [g for g in into if g["kind"] == f["kind"] == "PANIC"
                and g.get("location") == f.get("location")
                and re.sub(r"\d+", "N", g["message"]) == re.sub(r"\d+", "N", f["message"])]
        if same:
            same[0]["count"] = same[0].get("count", 1) + f.get("count", 1)
            same[0]["ops"] += [o for o in f.get("ops", []) if o not in same[0]["ops"]]
        else:
            into.append(f)


def run_group(group, examples, extra=(), script=FUZZ, names=None):
    """Runs one op group in child processes; returns (failures, notes) where each failure is a
    dict with kind/op/message/code (and count/location where known)."""
    names = names or list(fuzz_ops.GROUPS[group])
    failures, notes = [], []
    start, restarts = 0, 0
    t0 = time.monotonic()
    deadline = t0 + GROUP_TIMEOUT
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    if env.get("PYTHONPATH"):  # the child must find rtorch wherever it runs
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    with tempfile.TemporaryDirectory(prefix="rtorch-fuzz-") as tmp:
        while start < len(names):
            log, js = os.path.join(tmp, f"log{restarts}"), os.path.join(tmp, f"res{restarts}")
            cmd = [
                sys.executable, script, "--group", group, "--examples", str(examples),
                "--start", str(start), "--log", log, "--json", js,
                "--case-timeout", str(CASE_TIMEOUT),
                "--time-budget", str(max(GROUP_BUDGET - (time.monotonic() - t0), 1.0)), *extra,
            ]
            remaining = max(deadline - time.monotonic(), 5.0)
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=remaining, env=env)
                rc, out = proc.returncode, proc.stdout + proc.stderr
            except subprocess.TimeoutExpired as e:
                rc, out = "timeout", (e.stdout or b"") + (e.stderr or b"")
            out = out.decode("utf-8", "replace")
            log_text = _read(log)
            res = json.loads(_read(js) or "{}")
            _merge(failures, res.get("failures", []))
            if res.get("complete"):
                if res.get("skipped"):
                    notes.append(f"time budget: not run: {', '.join(res['skipped'])}")
                break
            if rc == 3 or (rc == 1 and "Timeout (" not in log_text and "CASE" not in log_text):
                raise AssertionError(f"fuzz harness error in group {group}:\n{out}\n{log_text}")
            last = _last_case(log_text)
            detail = _crash_detail(log_text)
            if rc == "timeout":
                kind, message = "HANG", f"group time limit ({GROUP_TIMEOUT:g}s) reached"
            elif "Timeout (" in detail:
                kind, message = "HANG", f"no result within {CASE_TIMEOUT:g}s"
            elif isinstance(rc, int) and rc < 0:
                kind, message = "CRASH", f"killed by signal {-rc}"
            else:
                kind, message = "CRASH", f"exit status {rc}"
            if detail:
                message += "\n" + detail
            if last is None:
                failures.append({"kind": kind, "op": "?", "code": "(no case logged)",
                                 "message": message, "count": 1, "ops": ["?"]})
                break
            opname, _, code = last
            failures.append({"kind": kind, "op": opname, "code": code, "message": message,
                             "count": 1, "ops": [opname]})
            restarts += 1
            start = names.index(opname) + 1
            if restarts >= MAX_RESTARTS or time.monotonic() > deadline:
                notes.append(f"gave up after {restarts} crashes; not run: {names[start:]}")
                break
    return failures, notes


def format_failures(group, failures, notes):
    lines = [f"fuzz group {group!r}: {len(failures)} distinct failure(s)"]
    for f in failures:
        ops = ", ".join(f.get("ops") or [f["op"]])
        lines.append(f"\n[{f['kind']}] op {ops} (x{f.get('count', 1)})")
        msg = f["message"].strip().splitlines() or [""]
        lines.append(f"  message:  {msg[0]}")
        lines += [f"            {m}" for m in msg[1:8]]
        if f.get("location"):
            lines.append(f"  location: {f['location']}")
        lines.append(f"  repro:    {f['code']}")
        lines += [f"  | {t}" for t in fuzz_ops._tb_tail(f.get("traceback", ""))]
    lines += [f"note: {n}" for n in notes]
    lines.append("\nrerun a case: python tests/python/fuzz_ops.py --repro '<repro>'")
    return "\n".join(lines)


@pytest.mark.parametrize("group", GROUPS)
def test_fuzz_no_panic_or_crash(group):
    failures, notes = run_group(group, EXAMPLES)
    if failures:
        pytest.fail(format_failures(group, failures, notes), pytrace=False)
    for n in notes:
        warnings.warn(f"fuzz group {group!r}: {n}", stacklevel=1)


@pytest.mark.parametrize("group", [g for g in GROUPS if g != "creation"])
def test_fuzz_layout_consistency(group):
    # Fewer examples than the crash fuzz unless RTORCH_FUZZ_LAYOUT asks for the full count.
    n = EXAMPLES if os.environ.get("RTORCH_FUZZ_LAYOUT") else max(1, EXAMPLES // 5)
    failures, notes = run_group(group, n, extra=("--check-layout",))
    failures = [f for f in failures if f["kind"] == "LAYOUT"]
    if failures:
        pytest.fail(format_failures(group, failures, notes), pytrace=False)
    for n in notes:
        warnings.warn(f"fuzz group {group!r}: {n}", stacklevel=1)


# ---------------------------------------------------------------- the harness itself


def _probe_script(tmp_path, ops):
    """A fuzz_ops child whose only group, 'probe', has one op per (name, case line)."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {HERE!r})\n"
        "import fuzz_ops\n"
        "class Boom(BaseException):  # what a PanicException looks like to Python\n"
        "    pass\n"
        "def boom():\n"
        "    raise Boom('simulated panic')\n"
        "orig = fuzz_ops.namespace\n"
        "fuzz_ops.namespace = lambda: dict(orig(), boom=boom)\n"
        "fuzz_ops.GROUPS.clear()\n"
        f"for name, line, must_raise in {ops!r}:\n"
        "    fuzz_ops.register('probe', name, lambda g, line=line, m=must_raise: "
        "fuzz_ops.Case(line, must_raise=m))\n"
        "sys.exit(fuzz_ops.main(sys.argv[1:]))\n"
    )
    return str(script), [name for name, _, _ in ops]


def test_harness_ordinary_exceptions_are_not_failures(tmp_path):
    script, names = _probe_script(tmp_path, [
        ("dim", "torch.zeros(2, 3).sum(5)", False),
        ("shape", "torch.zeros(2) + torch.zeros(3)", False),
        ("zerodiv", "torch.tensor([1]) // 0", False),
        ("python", "1 / 0", False),
        ("index", "torch.zeros(2)[7]", False),
        ("ok", "x = torch.zeros(2); x[0] = 1; _r = x", False),
    ])
    failures, notes = run_group("probe", 3, script=script, names=names)
    assert failures == [] and notes == []


def test_harness_flags_panics_crashes_hangs_and_noraise(tmp_path):
    """A non-Exception BaseException (as PanicException is), a must-raise case that returns, an
    abort and a hang are all failures, each attributed to its case line; after a crash or a
    hang the run resumes at the next op."""
    script, names = _probe_script(tmp_path, [
        ("panic", "boom()", False),
        ("noraise", "torch.zeros(1)", True),
        ("abort", "__import__('os').abort()", False),
        ("hang", "__import__('time').sleep(60)", False),
        ("after", "boom()", False),
    ])
    failures, _ = run_group("probe", 2, extra=("--case-timeout", "2"), script=script,
                            names=names)
    got = {f["op"]: f for f in failures}
    assert sorted(got) == ["abort", "after", "hang", "noraise", "panic"], failures
    assert got["panic"]["kind"] == "BASE_EXCEPTION"
    assert got["noraise"]["kind"] == "NORAISE"
    assert got["abort"]["kind"] == "CRASH" and "signal 6" in got["abort"]["message"]
    assert got["abort"]["code"] == "__import__('os').abort()"
    assert got["hang"]["kind"] == "HANG"


@pytest.mark.parametrize("layout", ["c", "list", "perm:2,0,1", "step:1:2", "exp:0,2:0",
                                    "exp::1", "off:2", "npT", "npstep"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
def test_mk_layouts(layout, dtype):
    """The recipes build what they claim: the same logical values as the contiguous build,
    with the promised memory layout."""
    shape = (2, 3, 4)
    t = fuzz_ops.mk(shape, dtype, 7, "special", layout)
    try:
        fuzz_ops.FORCE_CONTIGUOUS = True
        ref = fuzz_ops.mk(shape, dtype, 7, "special", layout)
    finally:
        fuzz_ops.FORCE_CONTIGUOUS = False
    assert tuple(t.shape) == shape and t.dtype == getattr(fuzz_ops.torch, dtype)
    assert ref.is_contiguous() and ref.storage_offset() == 0
    a, b = t.numpy(), ref.numpy()
    assert ((a == b) | ((a != a) & (b != b))).all()
    kind = layout.split(":")[0]
    if kind in ("perm", "step", "npT", "npstep"):
        assert not t.is_contiguous()
    if kind == "exp":
        assert 0 in t.stride()
    if kind == "off":
        assert t.storage_offset() > 0


def test_mk_zero_d_and_empty_offset_views():
    mk = fuzz_ops.mk
    assert mk((), "float32", 1, "rand", "c").shape == ()
    x = mk((), "float32", 1, "rand", "off:2")
    assert x.shape == () and x.storage_offset() == 2
    e = mk((3, 0), "float32", 1, "rand", "off:2")
    assert tuple(e.shape) == (3, 0) and e.storage_offset() > 0
