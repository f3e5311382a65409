import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = REPO.parent / "shared" / "data" / "photos"
SCHEMAS = REPO / "workflow" / "schemas"
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"


def small_config(images):
    """config.yaml with the small test settings of .test/config/config.yaml on top, reading ``images``."""
    import yaml

    from photoprivacy.sweeps import merge

    base = yaml.safe_load((REPO / "config.yaml").read_text())
    config = merge(base, yaml.safe_load(TEST_CONFIG.read_text()), "test config")
    config["input"]["images"] = str(images)
    return config


@pytest.fixture(scope="session")
def shared_photos():
    photos = sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not photos:
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    return photos


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
