"""The prefetching iterator and the background writer that model stages share."""

import threading
import time

import pytest

from photoprivacy.pipeline import BackgroundWriter, batches, prefetched, prepared_batches

WAIT = 10  # seconds: a generous bound on what should take milliseconds, so a broken helper fails, not hangs


def test_batches_keep_order_and_the_last_one_is_short():
    assert batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches([], 4) == []
    with pytest.raises(ValueError, match="at least 1"):
        batches([1], 0)


def test_prefetched_yields_in_order_when_workers_finish_out_of_order():
    def prepare(chunk):
        time.sleep(0.05 if chunk[0] % 2 == 0 else 0.0)  # even chunks finish after the odd ones started later
        return [value * 10 for value in chunk]

    out = list(prefetched(batches(list(range(10)), 2), prepare, workers=3, ahead=3))
    assert out == [(chunk, [value * 10 for value in chunk]) for chunk in batches(list(range(10)), 2)]


def test_prefetched_prepares_the_next_chunk_while_the_caller_works():
    second_started = threading.Event()

    def prepare(chunk):
        if chunk == [1]:
            second_started.set()
        return chunk

    for chunk, _ in prefetched([[0], [1], [2]], prepare, workers=1, ahead=1):
        if chunk == [0]:
            assert second_started.wait(WAIT), "chunk 1 was not prepared while chunk 0 was being used"


def test_prefetched_holds_at_most_ahead_plus_one_prepared_chunks():
    started, lock = [], threading.Lock()

    def prepare(chunk):
        with lock:
            started.append(chunk[0])
        return chunk

    seen = []
    for chunk, _ in prefetched([[index] for index in range(12)], prepare, workers=4, ahead=2):
        time.sleep(0.02)  # give the workers every chance to run further ahead
        with lock:
            seen.append(len(started) - chunk[0])  # prepared or being prepared, the current one included
    assert max(seen) <= 3 and seen[0] >= 2


def test_an_exception_in_a_worker_is_raised_at_its_chunk_after_the_ones_before():
    def prepare(chunk):
        if chunk == [2]:
            raise OSError("disk gone while reading chunk 2")
        return chunk

    got = []
    with pytest.raises(OSError, match="chunk 2"):
        for chunk, _ in prefetched([[0], [1], [2], [3]], prepare, workers=2, ahead=2):
            got.append(chunk)
    assert got == [[0], [1]]


def test_stopping_early_cancels_chunks_not_yet_started():
    started = []

    def prepare(chunk):
        started.append(chunk[0])
        return chunk

    loop = prefetched([[index] for index in range(100)], prepare, workers=1, ahead=2)
    for chunk, _ in loop:
        if chunk == [0]:
            break
    loop.close()
    assert len(started) <= 4


def test_prefetched_refuses_zero_workers_or_lookahead():
    with pytest.raises(ValueError):
        list(prefetched([[1]], list, workers=0))
    with pytest.raises(ValueError):
        list(prefetched([[1]], list, ahead=0))


def test_prepared_batches_prepare_the_decoded_images_in_the_workers():
    def decode(batch):  # a negative number stands for a photo that fails to decode
        decoded = [(item, item["n"] * 10) for item in batch if item["n"] >= 0]
        return decoded, [(item, "negative") for item in batch if item["n"] < 0]

    threads = []

    def prepare(images):
        threads.append(threading.current_thread().name)
        return sum(images)

    items = [{"id": str(n), "path": f"{n}.png", "n": n} for n in (1, 2, -1, -2, 3)]
    counts = {"rejected": 0}
    out = [
        ([item["n"] for item, _ in decoded], [item["n"] for item, _ in rejected], prepared)
        for decoded, rejected, prepared in prepared_batches(items, 2, decode, prepare, counts)
    ]
    assert out == [([1, 2], [], 30), ([], [-1, -2], None), ([3], [], 30)]
    assert counts["rejected"] == 2
    assert len(threads) == 2 and all(name.startswith("prefetch") for name in threads)


def test_writer_runs_calls_in_order_and_drains_before_the_block_ends():
    written = []

    def slow_write(value):
        time.sleep(0.005)
        written.append(value)

    with BackgroundWriter(max_pending=4) as writer:
        for value in range(20):
            writer.submit(slow_write, value)
    assert written == list(range(20))


def test_a_failed_write_fails_the_block_and_later_writes_are_dropped():
    written = []

    def write(value):
        if value == 3:
            raise OSError("No space left on device: out/3.json")
        written.append(value)

    with pytest.raises(OSError, match="out/3.json"), BackgroundWriter() as writer:
        for value in range(6):
            writer.submit(write, value)
    assert written == [0, 1, 2]


def test_submit_after_a_failed_write_raises_it():
    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    deadline = time.monotonic() + WAIT
    with pytest.raises(ZeroDivisionError):
        while time.monotonic() < deadline:
            writer.submit(lambda: None)
            time.sleep(0.001)
    with pytest.raises(ZeroDivisionError):
        writer.close()


def test_submit_blocks_while_the_queue_is_full():
    release = threading.Event()
    writer = BackgroundWriter(max_pending=2)
    writer.submit(release.wait)  # taken by the writer thread, which then waits
    time.sleep(0.05)
    writer.submit(lambda: None)
    writer.submit(lambda: None)  # the queue now holds two calls
    third = threading.Thread(target=writer.submit, args=(lambda: None,))
    third.start()
    third.join(0.2)
    assert third.is_alive(), "submit returned although max_pending calls were waiting"
    release.set()
    third.join(WAIT)
    assert not third.is_alive()
    writer.close()


def test_when_the_block_raises_queued_writes_still_run_and_its_error_propagates():
    written = []
    with pytest.raises(KeyError, match="model failed"), BackgroundWriter() as writer:
        for value in range(5):
            writer.submit(lambda v=value: (time.sleep(0.002), written.append(v)))
        raise KeyError("model failed")
    assert written == list(range(5))


def test_closed_writer_refuses_more_work():
    writer = BackgroundWriter()
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(print)
