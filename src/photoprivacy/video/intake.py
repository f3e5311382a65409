"""How a video enters a run: its intake record, its frames as image ids, and their shards.

Every stage works per image, so a video is turned into frames, each an image id of its
video: ``<video id>.frame000012`` is the video's frame 12, counted at its own rate. The
frames the run reads are every ``step``-th (``frame_step``: the video's rate over
``video.fps``), so the protected video keeps the input's length at the rate it was read.

Which frames there are must be known when Snakemake plans the run (every shard job is a
rule), so planning reads each video once (``media.probe`` decodes it to count its frames
exactly) and keeps what it found in the video's intake record, results/videos/<id>.json:
fps, frame count, size, rotation and audio streams, with the file's size and modification
time, so that later plannings (every cluster job plans again) read the record instead of
decoding the video again. A video that cannot be decoded gets a record with status
``rejected`` and why; it has no frames, and the run's other photos and videos go on.

A video's frames get shards of their own (``video_shards``), so a new video reruns no
other shard: keyframes (every ``scenario1_every``-th frame read, the frames scenario 1's
caption and scene models run on) in ``<id>.key000``, ``<id>.key001``, ... and the other
frames in ``<id>.000``, ... , at most ``frames_per_shard`` frames each.
"""

import os
from fractions import Fraction
from pathlib import Path

from ..artifacts import read_json, write_bytes_atomic, write_json
from ..errors import VideoRejected
from ..stages import STAGE_VERSIONS
from .media import probe, read_frames

FRAME_DIGITS = 6


def intake_record(video_id, path, record_path, max_pixels):
    """The intake record of the video at ``path``: the one at ``record_path`` when it describes
    this file as it is now (size and modification time, same intake version and ``max_pixels``),
    else a new one, written there. A video that cannot be decoded, or whose frames have more
    than ``max_pixels`` pixels, gets a rejected record (no exception)."""
    status = os.stat(path)
    record_path = Path(record_path)
    if record_path.is_file():
        try:
            known = read_json(record_path)
        except ValueError:  # cut short by a killed planning: read the video again
            known = None
        if known and _describes(known, path, status) and known.get("max_pixels") == max_pixels:
            return known
    record = _new_record(video_id, path, status, max_pixels)
    write_json(record_path, record)
    return record


def _describes(record, path, status):
    return (record.get("version") == STAGE_VERSIONS["video_intake"] and record.get("source") == str(path)
            and record.get("bytes") == status.st_size and record.get("mtime_ns") == status.st_mtime_ns)


def _new_record(video_id, path, status, max_pixels):
    record = {"image_id": video_id, "source": str(path), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns,
              "version": STAGE_VERSIONS["video_intake"], "max_pixels": max_pixels,
              "provenance": {"stage": "video_intake", "version": STAGE_VERSIONS["video_intake"]},
              "status": "ok", "reason": None, "video": None}
    try:
        if status.st_size == 0:
            raise VideoRejected(path, "empty file (0 bytes)")
        info = probe(path)
        width, height = info.upright_size
        if width * height > max_pixels:
            raise VideoRejected(path, f"decompression bomb: {width}x{height} = {width * height} pixels per frame "
                                      f"exceeds max_image_pixels {max_pixels}")
    except VideoRejected as rejected:
        record.update(status="rejected", reason=rejected.reason)
        return record
    record["video"] = {
        "fps": info.fps, "frame_rate": str(info.frame_rate), "frames": info.frames,
        "width": info.width, "height": info.height, "rotation": info.rotation,
        "upright_size": list(info.upright_size), "duration_s": info.duration_s, "codec": info.codec,
        "audio": [dict(stream) for stream in info.audio],
    }
    return record


def frame_step(record, fps):
    """Every how many frames of the video the run reads: 1 at its own rate (``fps`` None),
    else the source rate over ``fps`` rounded (at least 1)."""
    if fps is None:
        return 1
    return max(1, round(Fraction(record["video"]["frame_rate"]) / Fraction(fps).limit_denominator(1001)))


def frame_id(video_id, index):
    return f"{video_id}.frame{index:0{FRAME_DIGITS}d}"


def frame_relpath(video_relpath, frame):
    """How a frame is named to the user (and matched by the annotations detector's ``file_name``): its
    video's path, '#', its number (``clips/walk.mp4#000012``)."""
    return f"{video_relpath}#{frame.rsplit('.frame', 1)[1]}"


def frame_numbers(record, step):
    """The source frame numbers the run reads (none for a rejected video)."""
    if record["status"] != "ok":
        return []
    return list(range(0, record["video"]["frames"], step))


def frame_ids(video_id, record, step):
    """Image ids of the frames the run reads, in order."""
    return [frame_id(video_id, number) for number in frame_numbers(record, step)]


def output_rate(record, step):
    """Frame rate of the protected video: the source's over ``step`` (same length)."""
    return Fraction(record["video"]["frame_rate"]) / step


def keyframes(ids, scenario1_every):
    """The frames scenario 1's models run on: every ``scenario1_every``-th of ``ids`` (the first included)."""
    return ids[::scenario1_every]


def video_shards(video_id, ids, scenario1_every, frames_per_shard):
    """Shard name -> frame ids: keyframes in ``<id>.keyNNN``, the other frames in ``<id>.NNN``."""
    keys = set(keyframes(ids, scenario1_every))
    shards = {}
    for kind, chosen in (("key", [i for i in ids if i in keys]), ("", [i for i in ids if i not in keys])):
        for start in range(0, len(chosen), frames_per_shard):
            shards[f"{video_id}.{kind}{start // frames_per_shard:03d}"] = chosen[start:start + frames_per_shard]
    return shards


def is_keyframe_shard(video_id, shard):
    return shard.startswith(f"{video_id}.key")


def extract_frames(path, folder, ids, step, max_pixels):
    """Write the frames the run reads (every ``step``-th) as ``folder``/<frame id>.png, ``ids``
    in order. The video must give exactly those frames (as its intake counted them)."""
    from ..render.output import png_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for written, (_, frame) in enumerate(read_frames(path, step, max_pixels), start=1):
        if written > len(ids):
            break
        write_bytes_atomic(folder / f"{ids[written - 1]}.png", png_bytes(frame))
    if written != len(ids):
        raise VideoRejected(path, f"gave {written} frames where its intake counted {len(ids)}: "
                                  "the file changed since planning, plan again")
    return written
