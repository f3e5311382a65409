import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = REPO.parent / "shared" / "data" / "photos"
SCHEMAS = REPO / "workflow" / "schemas"
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def run_snakemake(workdir, *args, profile="offline", env=None, check=True):
    """Snakemake on the repository's workflow in ``workdir``; fails the test with its output tail."""
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
               "--profile", str(REPO / "profiles" / profile), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir,
                          env=env or dict(os.environ, HF_HUB_OFFLINE="1"))
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def planned_jobs(workdir, *args):
    """Rule name -> job count of a dry run ({} when nothing is to be done)."""
    out = run_snakemake(workdir, "-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def ran_jobs(done):
    """Rule name -> jobs run, from the output of a finished (not dry) Snakemake call."""
    names = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", done.stdout + done.stderr, re.MULTILINE)
    return dict(collections.Counter(names))


def model_job(project, stage, variant=None):
    """Rule name of the one model job of ``stage`` (execution.model_jobs: 1), from its log's name."""
    folder = project / "results" / "logs" / stage / (variant or "")
    (log,) = folder.glob("*.log")
    return f"{stage}_{log.stem.replace('-', '_')}"


def default_config():
    """config.yaml, the one place of every default (a fresh copy: tests change it)."""
    import yaml

    return yaml.safe_load((REPO / "config.yaml").read_text())


MAX_PIXELS = default_config()["execution"]["max_image_pixels"]


def small_config(images):
    """config.yaml with the small test settings of .test/config/config.yaml on top, reading ``images``."""
    import yaml

    from photoprivacy.sweeps import merge

    config = merge(default_config(), yaml.safe_load(TEST_CONFIG.read_text()), "test config")
    config["input"]["images"] = str(images)
    return config


@pytest.fixture(scope="session")
def shared_photos():
    photos = sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not photos:
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    return photos


@pytest.fixture(scope="session")
def photo_variants(shared_photos, tmp_path_factory):
    """The shared photos as taken, cropped off-centre, and upscaled 2x and 3x (bicubic), saved as PNG:
    a sequence of real photos of many sizes (the 3x copies have faces of a few hundred pixels)."""
    import cv2

    from photoprivacy.images import load_rgb

    folder = tmp_path_factory.mktemp("photo_variants")
    paths = []
    for photo in shared_photos:
        rgb = load_rgb(photo, MAX_PIXELS)
        height, width = rgb.shape[:2]
        variants = {"": rgb, "_crop": rgb[height // 4: height // 2 + 7, width // 3: width - 5],
                    "_x2": cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                    "_x3": cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)}
        for suffix, image in variants.items():
            paths.append(folder / f"{photo.stem}{suffix}.png")
            save_image(paths[-1], image)
    return paths


@pytest.fixture(scope="session")
def offline_model_dir(tmp_path_factory):
    """``offline_model_dir(family)``: a tiny random model of ``family`` (models.families) saved with
    its manifest, as the offline profile builds it; each family is built once per session."""
    from photoprivacy.models.families import build_random

    root = tmp_path_factory.mktemp("models")
    built = {}

    def model_dir(family):
        if family not in built:
            build_random(family, root / f"{family}-tiny", "tiny", seed=0)
            built[family] = root / f"{family}-tiny"
        return built[family]

    return model_dir


@pytest.fixture(scope="session")
def tiny_detr_dir(offline_model_dir):
    return offline_model_dir("detr")


def gradient_image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, width, dtype=np.float64)[None, :, None]
    noise = rng.integers(0, 40, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def save_image(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def copy_tree(src, dst):
    shutil.copytree(src, dst)
    return dst


def schema_validator(name):
    """A validator for workflow/schemas/<name>."""
    from photoprivacy.artifacts import schema_validator as validator

    return validator(SCHEMAS, name)


def pytest_collection_modifyitems(items):
    """Modules that run Snakemake end to end (marker ``workflow``) first: with two workers (make
    test) the quick modules then fill in around them, so both workers finish at about the same time."""
    items.sort(key=lambda item: item.get_closest_marker("workflow") is None)


def make_pan_video(photo, path, seconds=2, fps=25, size=(160, 120)):
    """A video panning over ``photo`` (a ``size`` window moving left to right over the photo
    scaled to twice its width), H.264 with a 440 Hz AAC tone at 48 kHz, and a title and a
    creation time for the encoder to strip: the real-photo video of the video tests."""
    import imageio_ffmpeg

    width, height = size
    last_frame = max(round(seconds * fps) - 1, 1)
    pan = f"scale={2 * width}:-2,crop={width}:{height}:x=(iw-ow)*n/{last_frame}:y=(ih-oh)/2,format=yuv420p"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y",
               "-loop", "1", "-framerate", str(fps), "-i", str(photo),
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
               "-vf", pan, "-c:v", "libx264", "-crf", "18", "-c:a", "aac",
               "-metadata", "title=Pan over a test photo", "-metadata", "creation_time=2020-01-01T12:00:00Z",
               str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return Path(path)
