"""Video in and out, through the ffmpeg binary that imageio-ffmpeg bundles (it has no ffprobe).

``probe`` reads what ``ffmpeg -i`` prints about a file and then decodes it once: that pass
counts the frames exactly as ``read_frames`` will yield them, and lists the packets of the
video and audio streams, whose timestamps give the exact average frame rate and each audio
stream's duration (``ffmpeg -i`` rounds the rate to two decimals and prints no per-stream
duration for MP4). ``read_frames`` yields upright RGB frames; ``encode`` writes them back
as an MP4 with the audio of the source and none of its metadata.

Rotation is the legacy ``rotate`` tag's convention, which phones write: the degrees a player
turns the stored picture clockwise. ffmpeg prints the display matrix counter-clockwise
("rotation of -90.00 degrees" for a phone's portrait video, rotation 90 here).
"""

import contextlib
import functools
import itertools
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ..artifacts import atomic_path
from ..errors import VideoRejected

VIDEO_EXTENSIONS = ("mp4", "mov", "mkv", "avi")

# Audio codecs MP4 players play, copied as they are; ffmpeg's mp4 muxer accepts more
# (PCM, Vorbis), which most players then refuse, so those are re-encoded to AAC.
MP4_AUDIO_CODECS = ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac")

# Chroma subsampling (horizontal, vertical) of the pixel formats that need even sizes.
_SUBSAMPLING = {"yuv420p": (2, 2), "yuvj420p": (2, 2), "nv12": (2, 2), "yuv420p10le": (2, 2),
                "yuv422p": (2, 1), "yuvj422p": (2, 1), "yuv422p10le": (2, 1)}

# Frames are sRGB. Players take untagged HD video for BT.709 and ffmpeg converts untagged
# RGB with BT.601: converting with BT.709 and saying so keeps the colours in both.
_BT709 = ("scale=out_color_matrix=bt709:out_range=tv,"
          "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709")

# Still images ffmpeg opens as one-frame videos.
_STILL_IMAGE_FORMATS = ("image2", "image2pipe")

_NO_TIMESTAMP = -(2**63)  # AV_NOPTS_VALUE as framecrc prints it

_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8,
             "hexadecagonal": 16}


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` found. ``width`` x ``height`` is the stored size; ``upright_size`` is
    the size of the frames ``read_frames`` yields. ``audio`` has one dict per audio stream:
    codec, channels (None for a layout not known here), sample_rate, duration_s."""

    fps: float
    frame_rate: Fraction
    frames: int
    width: int
    height: int
    rotation: int
    duration_s: float
    codec: str
    audio: tuple

    @property
    def upright_size(self):
        """(width, height) as players show the video: turned by ``rotation``."""
        return _upright(self.width, self.height, self.rotation)


@dataclass(frozen=True)
class _Header:
    """What ``ffmpeg -i`` prints, before anything is decoded."""

    video_stream: int
    codec: str
    width: int
    height: int
    rotation: int
    fps: Fraction | None  # as printed: two decimals
    duration_s: float | None
    audio: tuple  # (stream index, codec, channels, sample_rate) per audio stream

    @property
    def upright_size(self):
        return _upright(self.width, self.height, self.rotation)


def _upright(width, height, rotation):
    return (height, width) if rotation in (90, 270) else (width, height)


@functools.cache
def _ffmpeg():
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path):
    """Describe the video at ``path`` after decoding it once, or raise ``VideoRejected``."""
    path = Path(path)
    header = _read_header(path)
    audio_maps = [arg for stream in header.audio for arg in ("-map", f"0:{stream[0]}")]
    # Output stream 0 is the decoded video (counted), 1 its packets as stored (timed),
    # 2... the audio packets as stored (timed): one decode, no frame leaves ffmpeg.
    command = [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-noautorotate",
               "-i", str(path.absolute()),
               "-map", f"0:{header.video_stream}", "-map", f"0:{header.video_stream}", *audio_maps,
               "-c:v:0", "rawvideo", "-c:v:1", "copy", "-c:a", "copy", "-fps_mode", "passthrough",
               "-f", "framecrc", "-"]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    streams = _packet_spans(done.stdout)
    frames = streams.get(0, _Span()).count
    if done.returncode != 0 or frames == 0:
        message = _last_line(done.stderr) if done.stderr.strip() else "no video frame decoded"
        raise VideoRejected(path, f"cannot decode: {message}")
    frame_rate = _average_rate(streams.get(1), header.fps)
    if frame_rate is None:
        raise VideoRejected(path, "no frame rate: the video's packets have no timestamps")
    audio = tuple(
        {"codec": codec, "channels": channels, "sample_rate": sample_rate,
         "duration_s": streams[2 + number].seconds(from_zero=True) if 2 + number in streams else None}
        for number, (_, codec, channels, sample_rate) in enumerate(header.audio)
    )
    duration = header.duration_s if header.duration_s is not None else float(frames / frame_rate)
    return VideoInfo(fps=float(frame_rate), frame_rate=frame_rate, frames=frames,
                     width=header.width, height=header.height, rotation=header.rotation,
                     duration_s=duration, codec=header.codec, audio=audio)


def read_frames(path, step=1, max_pixels=None):
    """Yield (index, RGB uint8 (H, W, 3) array) for frames 0, step, 2*step, ... of ``path``.

    Frames are upright (the rotation applied, as players show them) at the stored size, and
    the index is the frame's number in the source. ffmpeg drops the frames in between
    before converting to RGB. ``max_pixels`` refuses a video whose frames are larger, before
    decoding it (``VideoRejected``), as ``load_rgb`` does for photos.
    """
    if step < 1:
        raise ValueError(f"step must be a positive whole number, got {step!r}")
    path = Path(path)
    header = _read_header(path)
    width, height = header.upright_size
    if max_pixels is not None and width * height > max_pixels:
        raise VideoRejected(path, f"decompression bomb: {width}x{height} = {width * height} pixels "
                                  f"per frame exceeds max_image_pixels {max_pixels}")
    select = ["-vf", f"select=not(mod(n\\,{step}))"] if step > 1 else []
    command = [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-autorotate",
               "-i", str(path.absolute()), "-map", f"0:{header.video_stream}", *select,
               "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        try:
            for index in itertools.count(0, step):
                frame = _read_frame(process.stdout, height, width)
                if frame is None:
                    break
                yield index, frame
            returncode = process.wait()
        finally:  # also when the caller stops early: ffmpeg would block on a full pipe
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        if returncode != 0:
            raise VideoRejected(path, f"cannot decode: {_last_line(_log_text(log))}")


def encode(frames, path, fps, audio_from=None, codec="libx264", crf=18, pix_fmt="yuv420p"):
    """Write RGB uint8 (H, W, 3) ``frames``, all of one size, as an MP4 at ``path``.

    ``fps`` is kept exact as a ``Fraction`` (``VideoInfo.frame_rate``); a float is read as
    the nearest fraction with a denominator up to 1001, so 29.97002997 is 30000/1001. The
    audio streams of ``audio_from`` are copied (re-encoded to AAC where MP4 players cannot
    play their codec); metadata and chapters are not: no title, date, place or rotation
    (the frames are upright). YUV is converted and tagged as BT.709, pixels as square. A
    pixel format with chroma subsampling needs even sizes: an odd width or height loses its
    last column or row, which no one sees, where padding would add a visible border. The
    video is written under a temporary name in the same folder and renamed when complete:
    a job killed midway leaves no file at ``path``.
    Returns what was written.
    """
    started = time.perf_counter()
    path = Path(path)
    frame_rate = as_frame_rate(fps)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{path}: no frames to encode")
    first = _rgb_frame(first, 0, None, path)
    height, width = first.shape[:2]
    across, down = _SUBSAMPLING.get(pix_fmt, (1, 1))
    out_width, out_height = width - width % across, height - height % down
    filters = [f"crop={out_width}:{out_height}:0:0"] if (out_width, out_height) != (width, height) else []
    if pix_fmt.startswith(("yuv", "nv")):
        filters.append(_BT709)
    audio_input, audio_args, audio = _audio_plan(audio_from)
    command = [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
               "-framerate", str(frame_rate), "-i", "pipe:0", *audio_input,
               "-map", "0:v:0", *audio_args, "-vf", ",".join([*filters, "setsar=1"]),
               "-c:v", codec, "-crf", str(crf), "-pix_fmt", pix_fmt,
               "-map_metadata", "-1", "-map_chapters", "-1",
               "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
               "-movflags", "+faststart", "-f", "mp4"]
    with atomic_path(path) as tmp:
        count = _pipe_frames([*command, str(tmp.absolute())], itertools.chain([first], frames), first.shape, path)
    return {"path": str(path), "frames": count, "width": out_width, "height": out_height,
            "fps": float(frame_rate), "frame_rate": str(frame_rate), "codec": codec, "crf": crf,
            "pix_fmt": pix_fmt, "audio": audio, "seconds": round(time.perf_counter() - started, 3)}


def as_frame_rate(fps):
    """``fps`` (Fraction, int, "30000/1001" or float) as a positive Fraction."""
    rate = Fraction(fps).limit_denominator(1001) if isinstance(fps, float) else Fraction(fps)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return rate


def _pipe_frames(command, frames, shape, path):
    """Feed ``frames`` to ffmpeg's stdin; ffmpeg is killed if anything goes wrong on this side."""
    count = 0
    broken = False
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for index, frame in enumerate(frames):
                frame = _rgb_frame(frame, index, shape, path)
                try:
                    process.stdin.write(memoryview(frame).cast("B"))
                except BrokenPipeError:  # ffmpeg stopped: its log says why
                    broken = True
                    break
                count += 1
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            raise
        if returncode != 0 or broken:
            raise RuntimeError(f"ffmpeg failed writing {path} (exit status {returncode}):\n"
                               + _tail(_log_text(log)))
    return count


def _rgb_frame(frame, index, shape, path):
    frame = np.ascontiguousarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{path}: frame {index} is not an RGB uint8 (H, W, 3) array "
                         f"(dtype {frame.dtype}, shape {frame.shape})")
    if shape is not None and frame.shape != shape:
        raise ValueError(f"{path}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, frame 0 is "
                         f"{shape[1]}x{shape[0]}: all frames of a video have one size")
    return frame


def _audio_plan(audio_from):
    """(input args, map and codec args, "copied" / "reencoded" / "none") for ``audio_from``."""
    if audio_from is None:
        return [], [], "none"
    audio_from = Path(audio_from)
    streams = _read_header(audio_from).audio
    if not streams:
        return [], [], "none"
    maps, codecs = [], []
    for number, (index, codec, _, _) in enumerate(streams):
        maps += ["-map", f"1:{index}"]
        codecs += [f"-c:a:{number}", "copy" if codec in MP4_AUDIO_CODECS else "aac"]
    reencoded = any(codec not in MP4_AUDIO_CODECS for _, codec, _, _ in streams)
    return (["-i", str(audio_from.absolute())], maps + codecs, "reencoded" if reencoded else "copied")


def _read_frame(stream, height, width):
    """The next frame from ffmpeg's raw RGB output, None at its end."""
    frame = np.empty((height, width, 3), np.uint8)
    view = memoryview(frame).cast("B")
    filled = 0
    while filled < len(view):
        read = stream.readinto(view[filled:])
        if not read:
            break
        filled += read
    if filled == 0:
        return None
    if filled < len(view):
        raise RuntimeError(f"ffmpeg's output ended inside a frame ({filled} of {len(view)} bytes)")
    return frame


def _read_header(path):
    """Parse ``ffmpeg -i path``: the first video stream that is not cover art, and the audio."""
    if path.stat().st_size == 0:
        raise VideoRejected(path, "empty file (0 bytes)")
    command = [_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path.absolute())]
    text = subprocess.run(command, capture_output=True, text=True, errors="replace").stderr
    found = re.search(r"^Input #0, (.+?), from '", text, re.MULTILINE)
    if found is None:
        raise VideoRejected(path, f"cannot decode: {_last_line(text)}")
    if found.group(1) in _STILL_IMAGE_FORMATS or found.group(1).endswith("_pipe"):
        raise VideoRejected(path, f"not a video: a still image ({found.group(1)})")
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    video, audio = None, []
    for index, kind, description, details in _stream_blocks(text):
        if kind == "Video" and video is None and "(attached pic)" not in description:
            video = (index, description, details)
        elif kind == "Audio":
            audio.append((index, description.split()[0].rstrip(","), *_audio_format(description)))
    if video is None:
        raise VideoRejected(path, "no video stream")
    index, description, details = video
    size = re.search(r"(?:^|, )(\d+)x(\d+)(?=[ ,]|$)", description)
    fps = re.search(r"([\d.]+)(k?) fps", description)
    return _Header(
        video_stream=index,
        codec=description.split()[0].rstrip(","),
        width=int(size.group(1)),
        height=int(size.group(2)),
        rotation=_rotation(details),
        fps=Fraction(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else None,
        duration_s=(int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
                    + float(duration.group(3))) if duration else None,
        audio=tuple(audio),
    )


def _stream_blocks(text):
    """(index, kind, description, lines below it) for each stream of input 0."""
    blocks = []
    for line in text.splitlines():
        stream = re.match(r"\s*Stream #0:(\d+)\S*: (\w+): (.*)$", line)
        if stream:
            blocks.append((int(stream.group(1)), stream.group(2), stream.group(3), []))
        elif blocks and line.startswith("    "):
            blocks[-1][3].append(line.strip())
    return blocks


def _rotation(details):
    """Clockwise degrees in 0..359 from a stream's side data or its legacy rotate tag."""
    for line in details:
        matrix = re.match(r"Display Matrix: rotation of (-?[\d.]+) degrees", line)
        if matrix:
            return round(-float(matrix.group(1))) % 360
    for line in details:
        tag = re.match(r"rotate\s*:\s*(-?\d+)", line)
        if tag:
            return int(tag.group(1)) % 360
    return 0


def _audio_format(description):
    """(channels, sample_rate) from "aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp"."""
    found = re.search(r"(\d+) Hz(?:, ([^,]+))?", description)
    if found is None:
        return None, None
    layout = (found.group(2) or "").strip()
    counted = re.match(r"(\d+) channels", layout)
    surround = re.match(r"(\d+)\.(\d+)", layout)  # 5.1(side): 5 + 1
    if counted:
        channels = int(counted.group(1))
    elif surround:
        channels = int(surround.group(1)) + int(surround.group(2))
    else:
        channels = _CHANNELS.get(layout.split("(")[0])
    return channels, int(found.group(1))


@dataclass
class _Span:
    """Packets of one framecrc stream: how many, and the time they cover."""

    count: int = 0
    start: int | None = None
    end: int | None = None
    time_base: Fraction = Fraction(1)

    def seconds(self, from_zero=False):
        """Covered time; ``from_zero`` ignores negative timestamps (AAC priming samples)."""
        if self.start is None:
            return None
        start = max(self.start, 0) if from_zero else self.start
        return float((self.end - start) * self.time_base)


def _packet_spans(framecrc):
    """framecrc output stream index -> _Span (lines "stream, dts, pts, duration, size, crc")."""
    spans = {}
    for line in framecrc.splitlines():
        if line.startswith("#tb "):
            stream, time_base = line[4:].split(":")
            spans.setdefault(int(stream), _Span()).time_base = Fraction(time_base.strip())
        elif line and not line.startswith("#"):
            stream, _, pts, duration = (int(field) for field in line.split(",")[:4])
            span = spans.setdefault(stream, _Span())
            span.count += 1
            if pts != _NO_TIMESTAMP:
                span.start = pts if span.start is None else min(span.start, pts)
                span.end = pts + duration if span.end is None else max(span.end, pts + duration)
    return spans


def _average_rate(packets, header_fps):
    """Frames per second over the packets' span, snapped to a whole or an NTSC (n*1000/1001)
    rate where the timestamps cannot tell them apart (Matroska stores milliseconds): the one
    nearer ffmpeg's printed rate. The printed rate when the packets are untimed, else None."""
    if packets is not None and packets.start is not None and packets.end > packets.start:
        span = (packets.end - packets.start) * packets.time_base
        rate = packets.count / span
        # Both ends of the span are rounded to the time base; 0.02 % at the least.
        tolerance = max(2 * packets.time_base / span, Fraction(1, 5000))
    elif header_fps:
        rate, tolerance = header_fps, Fraction(1, 200) / header_fps  # printed to 2 decimals
    else:
        return None
    candidates = {Fraction(round(rate)), Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)}
    for snapped in sorted(candidates, key=lambda candidate: abs(candidate - (header_fps or rate))):
        if snapped and abs(rate - snapped) <= snapped * tolerance:
            return snapped
    return rate.limit_denominator(10_000)


def _log_text(log):
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")


def _last_line(text):
    """ffmpeg's last message, without the "[mov,mp4 @ 0x55...]" prefix."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and line.strip() != "At least one output file must be specified"]
    return re.sub(r"^\[[^\]]*\] ", "", lines[-1]) if lines else "no message from ffmpeg"


def _tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])
