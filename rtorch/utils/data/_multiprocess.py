"""The DataLoader iterator that loads batches in worker processes.

Each worker has its own index queue; all share one result queue. Batches are returned
in sampler order (unless ``in_order=False``), with at most ``prefetch_factor`` tasks
outstanding per worker.
"""

import itertools
import os
import queue
import weakref

from . import _worker
from .dataloader import _BaseDataLoaderIter, _DatasetKind
from .sampler import _random_seed


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._in_order = loader.in_order
        self._worker_init_fn = loader.worker_init_fn
        self._shutdown = False
        self._workers = []
        self._workers_status = []

        _worker._register_tensor_pickling()
        ctx = loader._get_context()
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues = []
        self._base_seed = _random_seed(loader.generator)

        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            # Exiting the main process must not block on indices never delivered.
            index_queue.cancel_join_thread()
            w = ctx.Process(
                target=_worker._worker_loop,
                args=(
                    self._dataset_kind,
                    self._dataset,
                    index_queue,
                    self._worker_result_queue,
                    self._workers_done_event,
                    self._auto_collation,
                    self._collate_fn,
                    self._drop_last,
                    self._base_seed,
                    self._worker_init_fn,
                    i,
                    self._num_workers,
                ),
            )
            w.daemon = True
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)

        self._data_queue = self._worker_result_queue
        # The finalizer holds the queues and processes itself: were they only reachable
        # through this iterator, a garbage cycle containing it would close the queues
        # (their own finalizers run first) before the shutdown sentinels could be sent.
        self._finalizer = weakref.finalize(
            self,
            _stop_workers,
            os.getpid(),
            self._workers,
            self._workers_status,
            self._index_queues,
            self._worker_result_queue,
            self._workers_done_event,
            self._persistent_workers,
        )
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0  # next task index to send to a worker
        self._rcvd_idx = 0  # next task index to return
        # task index -> (worker_id,) while outstanding, (worker_id, data) once received
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status[:] = [True] * self._num_workers  # shared with the finalizer
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # Persistent workers: restart each worker's fetcher and drop stale results.
            for idx in range(self._num_workers):
                self._index_queues[idx].put(_worker._ResumeIteration())
            resume_iteration_cnt = self._num_workers
            while resume_iteration_cnt > 0:
                return_idx, return_data = self._get_data()
                if isinstance(return_idx, _worker._ResumeIteration):
                    assert return_data is None
                    resume_iteration_cnt -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout=_worker.MP_STATUS_CHECK_INTERVAL):
        try:
            data = self._data_queue.get(timeout=timeout)
            return True, data
        except Exception as e:
            failed_workers = []
            for worker_id, w in enumerate(self._workers):
                if self._workers_status[worker_id] and not w.is_alive():
                    failed_workers.append(w)
                    self._mark_worker_as_unavailable(worker_id)
            if failed_workers:
                pids_str = ", ".join(str(w.pid) for w in failed_workers)
                raise RuntimeError(
                    f"DataLoader worker (pid(s) {pids_str}) exited unexpectedly"
                ) from e
            if isinstance(e, queue.Empty):
                return False, None
            raise

    def _get_data(self):
        if self._timeout > 0:
            success, data = self._try_get_data(self._timeout)
            if success:
                return data
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        while True:
            success, data = self._try_get_data()
            if success:
                return data

    def _next_data(self):
        while True:
            # Skip tasks of workers that finished (IterableDataset) without a result.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    worker_id = info[0]
                    if len(info) == 2 or self._workers_status[worker_id]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:
                _, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data)

            assert not self._shutdown and self._tasks_outstanding > 0
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if self._dataset_kind == _DatasetKind.Iterable and isinstance(
                data, _worker._IterableDatasetStopIteration
            ):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue

            if idx != self._rcvd_idx:
                if not self._in_order:
                    del self._task_info[idx]
                    return self._process_data(data)
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data)

    def _try_put_index(self):
        assert self._tasks_outstanding < self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                break
        else:
            return  # all workers are done
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data):
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id, shutdown=False):
        # The None sentinel tells the worker to exit its loop.
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self):
        self._shutdown = True
        self._finalizer()


def _stop_workers(
    owner_pid, workers, workers_status, index_queues, result_queue, done_event, persistent
):
    # A forked child holding a copy of the iterator must not touch the parent's workers.
    if os.getpid() != owner_pid:
        return
    try:
        done_event.set()
        for worker_id in range(len(workers)):
            if persistent or workers_status[worker_id]:
                index_queues[worker_id].put(None)  # the worker leaves its loop
                workers_status[worker_id] = False
        for w in workers:
            w.join(timeout=_worker.MP_STATUS_CHECK_INTERVAL)
        for q in index_queues:
            q.cancel_join_thread()
            q.close()
        result_queue.cancel_join_thread()
        result_queue.close()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
