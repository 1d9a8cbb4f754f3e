"""The DataLoader iterator that loads batches in worker processes.

Tasks are numbered in sampler order and handed to the workers in turn, each on its own
queue; answers come back on one shared queue and are yielded in task order (or as they
arrive with ``in_order=False``). At most ``prefetch_factor`` tasks per worker are out at a
time: a new one is sent whenever a batch is yielded. See ``_worker`` for the messages.
"""

import os
import queue
import signal
import time
import weakref
from multiprocessing import connection as mp_connection

from . import _worker
from ._worker import DRAINED, FAILED, MP_STATUS_CHECK_INTERVAL, RESTART, RESTARTED, TASK
from .dataloader import _BaseDataLoaderIter, _DatasetKind


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._in_order = loader.in_order
        self._shutdown = False
        count = self._num_workers
        ctx = loader._get_context()
        _worker._register_tensor_pickling()
        spec = _worker.WorkerSpec(
            make_fetcher=self._fetcher_factory(),
            dataset=self._dataset,
            iterable=self._dataset_kind == _DatasetKind.Iterable,
            base_seed=self._base_seed,
            init_fn=loader.worker_init_fn,
            num_workers=count,
        )
        self._results = ctx.Queue()
        self._stop_event = ctx.Event()
        self._task_queues = [ctx.Queue() for _ in range(count)]
        self._workers = []
        for worker_id, tasks in enumerate(self._task_queues):
            # Exiting the main process must not block on tasks never delivered.
            tasks.cancel_join_thread()
            proc = ctx.Process(
                target=_worker.run_worker,
                args=(spec, worker_id, tasks, self._results, self._stop_event),
                daemon=True,
            )
            proc.start()
            self._workers.append(proc)
        # The finalizer gets the queues and processes themselves: were they reachable only
        # through this iterator, collecting a cycle holding it could close the queues
        # before the stop messages went out.
        self._finalizer = weakref.finalize(
            self,
            _stop_workers,
            os.getpid(),
            self._workers,
            self._task_queues,
            self._results,
            self._stop_event,
        )
        self._reset(loader, first_iter=True)

    # ---- epoch state ----------------------------------------------------------------------

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        if not first_iter:
            self._restart_workers()
        count = self._num_workers
        self._live = [True] * count  # worker still answers tasks this epoch
        self._owner = {}  # task number -> worker, until yielded or given up
        self._arrived = {}  # task number -> (status, payload), answered but not yielded
        self._sent = 0  # tasks sent so far
        self._want = 0  # the task to yield next (in order)
        self._turn = 0  # the worker to try first for the next task
        for _ in range(self._prefetch_factor * count):
            self._dispatch()

    def _restart_workers(self):
        # Persistent workers: start a new epoch and drop answers left from the last one.
        # Each worker answers in order, so its acknowledgement comes after its stale answers.
        # Every worker owes that acknowledgement, including those that ran dry last epoch.
        self._live = [True] * self._num_workers
        for tasks in self._task_queues:
            tasks.put((RESTART, None, None))
        waiting = self._num_workers
        while waiting:
            if self._receive()[2] == RESTARTED:
                waiting -= 1

    def _dispatch(self):
        """Send the next key of the sampler to the next worker still taking tasks."""
        try:
            key = self._next_index()
        except StopIteration:
            return
        count = self._num_workers
        for step in range(count):
            worker_id = (self._turn + step) % count
            if self._live[worker_id]:
                break
        else:
            return  # every worker's dataset ran dry
        self._turn = (worker_id + 1) % count
        self._task_queues[worker_id].put((TASK, self._sent, key))
        self._owner[self._sent] = worker_id
        self._sent += 1

    def _retire(self, worker_id):
        """The worker's dataset ran dry: it gets no more tasks this epoch."""
        self._live[worker_id] = False
        if not self._persistent_workers:
            self._task_queues[worker_id].put(None)

    # ---- receiving ------------------------------------------------------------------------

    def _receive(self):
        """The next message from any worker; fails if a worker died or on timeout."""
        give_up_at = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            patience = MP_STATUS_CHECK_INTERVAL
            if give_up_at is not None:
                patience = max(0.0, min(patience, give_up_at - time.monotonic()))
            if self._wait_for_results(patience):
                try:
                    return self._results.get(timeout=patience)
                except queue.Empty:
                    pass
                except Exception as exc:  # a broken pipe, say: a dead worker explains it
                    self._fail_if_a_worker_died(exc)
                    raise
            self._fail_if_a_worker_died()
            if give_up_at is not None and time.monotonic() >= give_up_at:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _wait_for_results(self, seconds):
        """Block until an answer is readable (True), a worker still owing answers exits, or
        ``seconds`` pass; waking on the exit reports a killed worker without delay."""
        reader = getattr(self._results, "_reader", None)
        if reader is None:
            return True  # a queue type we cannot watch: get() does the waiting
        watched = [reader]
        watched += [proc.sentinel for i, proc in enumerate(self._workers) if self._live[i]]
        return reader in mp_connection.wait(watched, seconds)

    def _fail_if_a_worker_died(self, cause=None):
        dead = [
            proc
            for worker_id, proc in enumerate(self._workers)
            if self._live[worker_id] and not proc.is_alive()
        ]
        if not dead:
            return
        for proc in dead:
            # Its tasks are skipped; the other workers carry on if the caller goes on.
            self._retire(self._workers.index(proc))
        pids = ", ".join(str(proc.pid) for proc in dead)
        if cause is None:
            cause = RuntimeError(" ".join(_how_it_ended(proc) for proc in dead))
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from cause

    def _skip_unanswerable(self):
        # Tasks behind the one wanted next that will never be answered: their worker ran
        # dry, or (in_order=False) they were already yielded.
        while self._want < self._sent and self._want not in self._arrived:
            worker_id = self._owner.get(self._want)
            if worker_id is not None and self._live[worker_id]:
                return
            self._owner.pop(self._want, None)
            self._want += 1

    def _next_data(self):
        while True:
            self._skip_unanswerable()
            if self._want == self._sent:  # nothing left to wait for: the epoch is over
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if self._want in self._arrived:
                return self._deliver(self._want)
            worker_id, seq, status, payload = self._receive()
            if status == DRAINED:
                self._owner.pop(seq, None)
                self._retire(worker_id)
                self._dispatch()
            elif status != RESTARTED:
                self._arrived[seq] = (worker_id, status, payload)
                if not self._in_order:
                    return self._deliver(seq)

    def _deliver(self, seq):
        worker_id, status, payload = self._arrived.pop(seq)
        self._owner.pop(seq, None)
        if seq == self._want:
            self._want += 1
        self._dispatch()
        payload = _worker.unpack(worker_id, payload)
        if status == FAILED:
            payload.reraise()
        return payload

    def _shutdown_workers(self):
        self._shutdown = True
        self._finalizer()


def _how_it_ended(proc):
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
            name = signal.strsignal(-code) or name
        except ValueError:
            name = str(-code)
        return f"DataLoader worker (pid {proc.pid}) is killed by signal: {name}."
    return f"DataLoader worker (pid {proc.pid}) exited with code {code}."


def _stop_workers(owner_pid, workers, task_queues, results, stop_event):
    # A forked child holding a copy of the iterator must not touch the parent's workers.
    if os.getpid() != owner_pid:
        return
    try:
        stop_event.set()
        for tasks in task_queues:
            tasks.put(None)  # the worker leaves its loop
        for proc in workers:
            proc.join(timeout=MP_STATUS_CHECK_INTERVAL)
        for q in (*task_queues, results):
            q.cancel_join_thread()
            q.close()
    finally:
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
