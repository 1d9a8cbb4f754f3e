"""DataLoader worker failures end in a clear error, never a hang: batches that cannot be
pickled (or unpickled), workers killed by a signal or exiting, ``timeout=``, exceptions
raised in the dataset.

Every scenario runs in a child interpreter under a deadline, so a regression fails the test
instead of blocking the run. The child prints one JSON line describing what happened.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEADLINE_S = 60

SCRIPT = textwrap.dedent(
    r"""
    import json, os, signal, sys, time

    LIB, CASE, CONTEXT = sys.argv[1], sys.argv[2], sys.argv[3]
    if LIB == "torch":
        import torch
    else:
        import rtorch as torch
    DataLoader = torch.utils.data.DataLoader
    Dataset = torch.utils.data.Dataset
    MAIN_PID = os.getpid()


    class Unpicklable:
        def __reduce__(self):
            raise ValueError("Unpicklable refuses to be pickled")


    def _rebuild_only_in_worker(value):
        if os.getpid() == MAIN_PID:
            raise ValueError("cannot rebuild this object in the main process")
        return value


    class NoRebuild:
        def __reduce__(self):
            return _rebuild_only_in_worker, (1,)


    def _local_error():
        class LocalError(Exception):
            pass

        return LocalError("raised with a type pickle cannot find")


    class Items(Dataset):
        def __init__(self, case):
            self.case = case

        def __len__(self):
            return 8

        def __getitem__(self, i):
            case = self.case
            if case == "lambda" and i == 2:
                return lambda: i
            if case == "reduce" and i == 2:
                return Unpicklable()
            if case == "no_rebuild" and i == 2:
                return NoRebuild()
            if case == "local_error" and i == 2:
                raise _local_error()
            if case == "key_error" and i == 3:
                raise KeyError("missing sample 3")
            if case == "exit" and i == 2:
                os._exit(3)
            if case == "slow" and i >= 2:
                time.sleep(4)
            if case in ("kill", "kill_persistent"):
                time.sleep(0.3)
            return i


    def main():
        kwargs = dict(batch_size=2, num_workers=2, collate_fn=list)
        if CONTEXT != "default":
            kwargs["multiprocessing_context"] = CONTEXT
        if CASE == "slow":
            kwargs["timeout"] = 1
        if CASE == "kill_persistent":
            kwargs["persistent_workers"] = True
        loader = DataLoader(Items(CASE), **kwargs)
        events = []
        start = time.monotonic()
        it = iter(loader)
        if CASE == "kill_persistent":
            events.append(["epoch", [b for b in it]])
            os.kill(it._workers[1].pid, signal.SIGKILL)
            it._workers[1].join(10)
            start = time.monotonic()
            try:
                iter(loader)
            except Exception as exc:
                events.append(["error", type(exc).__name__, str(exc), repr(exc.__cause__)])
                events[-1].append(time.monotonic() - start)
            print(json.dumps(events))
            return
        for _ in range(10):  # more than the 4 batches: the loop ends on StopIteration
            try:
                batch = next(it)
            except StopIteration:
                events.append(["stop"])
                break
            except Exception as exc:
                events.append(["error", type(exc).__name__, str(exc), repr(exc.__cause__)])
                events[-1].append(time.monotonic() - start)
                if CASE == "slow":
                    break
                continue
            events.append(["batch", batch])
            if CASE == "kill" and batch == [0, 1]:
                os.kill(it._workers[1].pid, signal.SIGKILL)
                start = time.monotonic()
        print(json.dumps(events))


    if __name__ == "__main__":
        main()
    """
)


def _run(tmp_path, case, lib="rtorch", context="default"):
    script = tmp_path / "scenario.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run(
            [sys.executable, str(script), lib, case, context],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            env=env,
            cwd=str(tmp_path),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"DataLoader scenario {case!r} hung (no result in {DEADLINE_S}s): {exc}")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _errors(events):
    return [e for e in events if e[0] == "error"]


def _batches(events):
    return [e[1] for e in events if e[0] == "batch"]


@pytest.mark.parametrize("context", ["default", "spawn"])
def test_unpicklable_batch_raises_naming_worker(tmp_path, context):
    events = _run(tmp_path, "lambda", context=context)
    [error] = _errors(events)
    kind, message = error[1], error[2]
    assert kind == "RuntimeError"
    # Batch [2, 3] is the second task: worker 1 loads it.
    assert "DataLoader worker process 1" in message
    assert "could not send a batch" in message
    assert "Can't pickle" in message or "cannot pickle" in message.lower()
    # The failure costs only that batch; the others arrive in order and the epoch ends.
    assert _batches(events) == [[0, 1], [4, 5], [6, 7]]
    assert events[-1] == ["stop"]


def test_reduce_raising_is_reported_with_its_cause(tmp_path):
    events = _run(tmp_path, "reduce")
    [error] = _errors(events)
    assert error[1] == "RuntimeError"
    assert "DataLoader worker process 1" in error[2]
    assert "ValueError: Unpicklable refuses to be pickled" in error[2]
    assert events[-1] == ["stop"]


def test_unpicklable_exception_type_keeps_its_message(tmp_path):
    events = _run(tmp_path, "local_error")
    [error] = _errors(events)
    assert error[1] == "RuntimeError"
    assert "DataLoader worker process 1" in error[2]
    assert "LocalError" in error[2]
    assert "raised with a type pickle cannot find" in error[2]
    assert _batches(events) == [[0, 1], [4, 5], [6, 7]]


def test_batch_that_cannot_be_unpickled_in_the_loader(tmp_path):
    events = _run(tmp_path, "no_rebuild")
    [error] = _errors(events)
    assert error[1] == "RuntimeError"
    assert "worker process 1" in error[2]
    assert "cannot rebuild this object in the main process" in error[2]
    assert events[-1] == ["stop"]


def test_dataset_exception_reraised_with_worker_id(tmp_path):
    events = _run(tmp_path, "key_error")
    [error] = _errors(events)
    assert error[1] == "KeyError"
    assert error[2].startswith("Caught KeyError in DataLoader worker process 1.")
    assert "missing sample 3" in error[2]
    assert _batches(events) == [[0, 1], [4, 5], [6, 7]]


@pytest.mark.parametrize("context", ["default", "spawn"])
def test_killed_worker_raises_promptly(tmp_path, context):
    events = _run(tmp_path, "kill", context=context)
    errors = _errors(events)
    assert len(errors) == 1, events
    kind, message, cause, seconds = errors[0][1:]
    assert kind == "RuntimeError"
    assert message.startswith("DataLoader worker (pid(s) ")
    assert message.endswith(") exited unexpectedly")
    assert "killed by signal" in cause
    # Woken by the process exit, not by the periodic status check.
    assert seconds < 3.0
    # The surviving worker's batches still come, then the epoch ends.
    assert [0, 1] in _batches(events)
    assert events[-1] == ["stop"]


def test_worker_exiting_raises(tmp_path):
    events = _run(tmp_path, "exit")
    errors = _errors(events)
    assert len(errors) == 1, events
    assert errors[0][2].endswith(") exited unexpectedly")
    assert "exited with code 3" in errors[0][3]
    assert errors[0][4] < 3.0
    assert events[-1] == ["stop"]


def test_killed_persistent_worker_fails_next_epoch(tmp_path):
    events = _run(tmp_path, "kill_persistent")
    assert events[0] == ["epoch", [[0, 1], [2, 3], [4, 5], [6, 7]]]
    [error] = _errors(events)
    assert error[1] == "RuntimeError"
    assert error[2].endswith(") exited unexpectedly")
    assert error[4] < 3.0


def test_timeout_raises(tmp_path):
    events = _run(tmp_path, "slow")
    [error] = _errors(events)
    assert error[1:3] == ["RuntimeError", "DataLoader timed out after 1 seconds"]
    assert error[4] < 3.5
    assert _batches(events) == [[0, 1]]


@pytest.mark.parametrize("case", ["key_error", "kill", "slow"])
def test_same_errors_as_pytorch(tmp_path, case):
    pytest.importorskip("torch")
    ours = _run(tmp_path, case)
    ref = _run(tmp_path, case, lib="torch")
    assert [e[1] for e in _errors(ours)] == [e[1] for e in _errors(ref)]
    for mine, theirs in zip(_errors(ours), _errors(ref)):
        if case == "kill":  # pids differ
            assert re.sub(r"\d+", "N", mine[2]) == re.sub(r"\d+", "N", theirs[2])
        else:
            assert mine[2].split("\n")[0] == theirs[2].split("\n")[0]
    assert ours[-1][0] == ref[-1][0]
