"""Progress lines in a shard job's log: images done, images/s and time left.

A job's per-image loop ticks once per image (a rejected or skipped image
counts as done), and ``Progress`` logs a line when ``interval_s`` (10 s) have
passed or ``every_percent`` (5 %) of the total were done since its last line,
whichever comes first, and one at the end::

    progress: 120/1500 images (8%), 3.2 images/s, 7 min 11 s left
    progress: 1500/1500 images (100%), 3.1 images/s, done in 8 min 4 s

(``stopped after …`` when the job fails). The rate is the images done over the
time since the job's progress started, model loading included.

Who knows the total starts the progress: a model job (``ModelJob.run_indexed``,
the evaluate script) over the images of the shards it computes, with
``job_progress``. The loops tick it: ``tracked(items)`` for a loop over a
shard's items, ``progress_of(items)`` for a loop over batches. A loop that
runs outside a job's progress (a CPU shard job, a test) reports on its own
items.

``python -m photoprivacy.progress results/logs`` prints the last progress line
of every job log, and a total.
"""

import argparse
import contextlib
import logging
import re
import sys
import time
from pathlib import Path

LINE = re.compile(
    r"progress: (?P<done>\d+)/(?P<total>\d+) images \((?P<percent>\d+)%\), (?P<rate>\S+) images/s, (?P<state>.+)$"
)
log = logging.getLogger(__name__)
# The progress of the running job, which the loops tick; None outside one.
_running = None


def duration(seconds):
    """``431.2`` -> ``7 min 11 s``; ``45`` -> ``45 s``; ``4000`` -> ``1 h 6 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def rate_text(rate):
    return f"{rate:.1f}" if rate >= 1 else f"{rate:.2g}"


class Progress:
    """Counts a job's images done out of ``total`` and logs progress lines to ``logger``
    (default: this module's, which the job log receives). Ticked from one thread."""

    def __init__(self, total, logger=None, clock=time.monotonic, interval_s=10.0, every_percent=5):
        if total < 0:
            raise ValueError(f"progress total must be at least 0, got {total}")
        self.total = total
        self.done = 0
        self._log = logger or log
        self._clock = clock
        self._interval_s = interval_s
        self._every_percent = every_percent
        self._started = self._last_line_at = clock()
        self._last_line_done = 0
        self._ended = False

    def tick(self, images=1):
        """``images`` more are done; log a line if one is due."""
        self.done += images
        if self._ended:
            return
        now = self._clock()
        if self.done >= self.total:
            self._end(now, "done in")
        elif (now - self._last_line_at >= self._interval_s
              or (self.done - self._last_line_done) * 100 >= self.total * self._every_percent):
            self._line(now, self._time_left(now))

    def finish(self):
        """The end line, unless the last tick wrote it."""
        if not self._ended:
            self._end(self._clock(), "done in")

    def stop(self):
        """The end line of a job that failed."""
        if not self._ended:
            self._end(self._clock(), "stopped after")

    def _rate(self, now):
        elapsed = now - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _time_left(self, now):
        rate = self._rate(now)
        if rate <= 0:
            return "time left unknown"
        return f"{duration((self.total - self.done) / rate)} left"

    def _end(self, now, how):
        self._ended = True
        self._line(now, f"{how} {duration(now - self._started)}")

    def _line(self, now, state):
        percent = self.done * 100 // self.total if self.total else 100
        self._log.info("progress: %d/%d images (%d%%), %s images/s, %s",
                       self.done, self.total, percent, rate_text(self._rate(now)), state)
        self._last_line_at, self._last_line_done = now, self.done

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.finish()
        else:
            self.stop()
        return False


@contextlib.contextmanager
def job_progress(total, **kwargs):
    """The job's progress over ``total`` images, which the loops inside tick; its end line on leaving."""
    global _running
    outer, _running = _running, Progress(total, **kwargs)
    try:
        with _running as progress:
            yield progress
    finally:
        _running = outer


@contextlib.contextmanager
def progress_of(items):
    """The running job's progress, or, outside one, a progress of its own over ``items``."""
    if _running is not None:
        yield _running
    else:  # not the running job's: a loop left open after an error must not catch later loops' ticks
        with Progress(len(items)) as progress:
            yield progress


def tracked(items):
    """Yield each of ``items``; each counts as done when the loop asks for the next one."""
    with progress_of(items) as progress:
        for item in items:
            yield item
            progress.tick()


def last_progress(path):
    """The last progress line of a log as a dict (done, total, percent, rate, state, finished), or None."""
    last = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if "progress: " in line:
                match = LINE.search(line.rstrip("\n"))
                if match:
                    last = match
    if last is None:
        return None
    found = last.groupdict()
    return {"done": int(found["done"]), "total": int(found["total"]), "percent": int(found["percent"]),
            "rate": found["rate"], "state": found["state"], "finished": found["state"].startswith("done in"),
            "stopped": found["state"].startswith("stopped after")}


def summary(logs):
    """Lines of a table of every job log under ``logs`` with a progress line, then a total line."""
    logs = Path(logs)
    rows = []
    for path in sorted(logs.rglob("*.log")):
        last = last_progress(path)
        if last is None:
            continue
        parts = path.relative_to(logs).with_suffix("").parts
        stage, job = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else ("", parts[0])
        rows.append((stage, job, last))
    header = ("stage", "job", "images", "%", "images/s", "state")
    table = [header] + [(stage, job, f"{last['done']}/{last['total']}", f"{last['percent']}%", last["rate"],
                         last["state"]) for stage, job, last in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in table]
    done, total = sum(last["done"] for *_, last in rows), sum(last["total"] for *_, last in rows)
    finished = sum(last["finished"] for *_, last in rows)
    stopped = sum(last["stopped"] for *_, last in rows)
    percent = done * 100 // total if total else 100
    lines.append(f"total: {len(rows)} jobs ({finished} done, {stopped} stopped, "
                 f"{len(rows) - finished - stopped} running), {done}/{total} images ({percent}%)")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m photoprivacy.progress",
        description="Where a run stands: the last progress line of each job log, and a total. A job that "
                    "was killed keeps its last line and shows as running.")
    parser.add_argument("logs", nargs="?", default="results/logs",
                        help="the workflow's log folder (default: results/logs)")
    logs = parser.parse_args(argv).logs
    if not Path(logs).is_dir():
        parser.error(f"no log folder {logs}")
    print("\n".join(summary(logs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
