"""Keep a model stage's model busy: inputs prepared ahead, artifacts written behind.

A model stage's loop keeps its serial shape; only the model runs on the
calling thread::

    with BackgroundWriter() as writer:
        for batch, decoded in prefetched(batches(items, batch_size), decode):
            results = model(decoded)
            for item, result in zip(batch, results):
                writer.submit(write_json, item["json"], record(item, result))

``prefetched`` runs ``decode`` on the next batches in worker threads while
the model works on this one (``prepared_batches`` also turns their images
into the model's input tensors there); ``BackgroundWriter`` serialises and
writes the artifacts of finished batches on one thread. Threads, not processes:
decoding (PIL), resizing (torch), compression (zlib) and file I/O release
the GIL, and a thread hands its arrays over without pickling them.

Results do not change: batches are the same, in the same order, and each
artifact is written by the same function with the same arguments.
"""

import collections
import itertools
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from .progress import progress_of

# Batches prepared ahead of the model, at least: with one held by the caller,
# at most ahead + 1 batches of decoded images are in memory.
PREFETCH_AHEAD = 2
# Artifact writes waiting at most; ``submit`` blocks beyond that.
WRITER_QUEUE = 16

log = logging.getLogger(__name__)


def batches(items, size):
    """``items`` in consecutive lists of ``size``, the last of each shard shorter: a batch never
    mixes items of different ``shard`` values (dicts' key, if any), so a shard's results do
    not depend on which other shards its job runs (a batch pads to its largest image)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    chunks = []
    for _, run in itertools.groupby(items, key=lambda item: item.get("shard") if isinstance(item, dict) else None):
        run = list(run)
        chunks.extend(run[start : start + size] for start in range(0, len(run), size))
    return chunks


def decoded_batches(items, batch_size, decode, counts):
    """Yield ``(decoded, rejected)`` for each batch of ``items``, decoded ahead by
    ``decode`` (a batch -> (decoded, rejected) function, e.g. ``images.decode_batch``).
    Each rejected item is logged and counted in ``counts["rejected"]``; the caller
    writes its records. A batch's images count as done for the job's progress when the
    caller asks for the next batch."""
    with progress_of(items) as progress:
        for batch, (decoded, rejected) in prefetched(batches(items, batch_size), decode):
            for item, reason in rejected:
                log.warning("rejected %s (%s): %s", item["id"], item["path"], reason)
                counts["rejected"] += 1
            yield decoded, rejected
            progress.tick(len(batch))


def prepared_batches(items, batch_size, decode, prepare, counts):
    """``decoded_batches``, and the batch's model inputs too: yield ``(decoded, rejected, prepared)``.

    ``prepare`` (the decoded images of a batch -> the model's inputs: resizing, normalising,
    padding) runs in the same worker as ``decode``, so the model's thread only runs the model.
    ``prepared`` is None for a batch without a decoded image.
    """

    def decode_and_prepare(batch):
        decoded, rejected = decode(batch)
        prepared = prepare([image for _, image in decoded]) if decoded else None
        return (decoded, prepared), rejected

    for (decoded, prepared), rejected in decoded_batches(items, batch_size, decode_and_prepare, counts):
        yield decoded, rejected, prepared


def prefetched(chunks, prepare, workers=None, ahead=None):
    """Yield ``(chunk, prepare(chunk))`` for every chunk, in order.

    Up to ``ahead`` chunks are prepared in ``workers`` threads while the
    caller works on the current one. ``workers`` defaults to the job's
    thread count, ``torch.get_num_threads()``, which the scripts set to the
    rule's threads (a model on a GPU leaves them to decoding); ``ahead`` to
    as many chunks as workers, and at least ``PREFETCH_AHEAD``.

    An exception raised by ``prepare`` is raised here when its chunk's turn
    comes, after the chunks before it, as a serial loop would raise it. When
    the caller stops early, the chunks not yet started are cancelled and
    those running are waited for (on ``close()`` of this generator, or when
    it is garbage-collected). ``prepare`` runs on other threads: it must not
    touch the model.
    """
    if workers is None:
        import torch

        workers = torch.get_num_threads()
    if ahead is None:
        ahead = max(PREFETCH_AHEAD, workers)
    if workers < 1 or ahead < 1:
        raise ValueError(f"prefetched needs workers >= 1 and ahead >= 1, got {workers} and {ahead}")
    chunks = iter(chunks)
    pending = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch") as pool:

        def submit_next():
            for chunk in chunks:
                pending.append((chunk, pool.submit(prepare, chunk)))
                return

        try:
            for _ in range(ahead):
                submit_next()
            while pending:
                chunk, future = pending.popleft()
                prepared = future.result()
                submit_next()
                yield chunk, prepared
        finally:
            for _, future in pending:
                future.cancel()


class BackgroundWriter:
    """Runs submitted calls (artifact writes), in order, on one thread behind the caller.

    ``submit`` blocks while ``max_pending`` calls wait, so memory stays
    bounded when writing is slower than the model. The first call that
    raises fails the job: the next ``submit``, or ``close``, raises that
    exception, and the calls still queued are dropped. ``close`` (and
    leaving a ``with`` block) returns once every call has run. If the
    ``with`` block itself raises, the queued calls still run (each writes a
    whole file) and the block's exception propagates.

    A call runs later, on another thread: its arguments must not be
    changed after ``submit``.
    """

    def __init__(self, max_pending=WRITER_QUEUE):
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._queue = queue.Queue(maxsize=max_pending)
        self._error = None
        self._closed = False
        # A daemon: a caller that never closes must not keep the interpreter alive. Files are
        # written atomically, so one cut short at exit is never mistaken for a complete one.
        self._thread = threading.Thread(target=self._run, name="artifact-writer", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            task = self._queue.get()
            if task is None:
                return
            if self._error is None:
                function, args, kwargs = task
                try:
                    function(*args, **kwargs)
                except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                    self._error = error

    def submit(self, function, *args, **kwargs):
        """Queue ``function(*args, **kwargs)``; raise the error of an earlier call, if any."""
        if self._closed:
            raise RuntimeError("submit on a closed BackgroundWriter")
        self._raise_error()
        self._queue.put((function, args, kwargs))

    def close(self):
        """Wait for every submitted call; raise the first error one of them raised."""
        self._finish()
        self._raise_error()

    def _finish(self):
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _raise_error(self):
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.close()
            return False
        self._finish()
        if self._error is not None and self._error is not exc:
            log.error("an artifact write failed too: %r", self._error)
        return False
