"""Model folders: models.verify fast and full, missing files (how to get them back, and the
workflow making them again), file permissions, and a hub out of reach failing within seconds."""

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from photoprivacy import artifacts
from photoprivacy.artifacts import FILE_MODE, write_bytes_atomic, write_json
from photoprivacy.errors import ModelNotAvailable
from photoprivacy.models import store
from photoprivacy.models.families import build_random, fetch_pretrained
from photoprivacy.models.store import VERIFY_ENV, verify_manifest, write_manifest

from conftest import default_config, gradient_image, model_job, planned_jobs, run_snakemake, save_image


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(VERIFY_ENV, raising=False)


@pytest.fixture
def detr_dir(offline_model_dir, tmp_path):
    """A copy of the tiny offline DETR with its manifest (files' times kept)."""
    return Path(shutil.copytree(offline_model_dir("detr"), tmp_path / "detr-tiny"))


def change_keeping_size_and_time(path):
    """Flip one byte in the middle of ``path`` and put its old modification time back,
    as `cp -p` or `rsync -t` of a different file of the same size would."""
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size and path.stat().st_mtime_ns == status.st_mtime_ns


def test_fast_misses_a_same_size_change_with_the_old_time_and_full_catches_it(detr_dir):
    change_keeping_size_and_time(detr_dir / "model.safetensors")
    # The documented limit of `fast`: size and time are all it looks at.
    assert verify_manifest(detr_dir, mode="fast")["id"] == "random-detr-tiny"
    with pytest.raises(ModelNotAvailable, match=r"model.safetensors does not match the SHA-256"):
        verify_manifest(detr_dir, mode="full")


def test_fast_catches_a_change_that_moves_the_time(detr_dir):
    weights = detr_dir / "model.safetensors"
    later = (detr_dir / "manifest.json").stat().st_mtime_ns + 10**9
    change_keeping_size_and_time(weights)
    os.utime(weights, ns=(later, later))
    with pytest.raises(ModelNotAvailable, match="does not match the SHA-256"):
        verify_manifest(detr_dir, mode="fast")


def count_hashes(monkeypatch):
    hashed = []
    real = store.sha256_of

    def counting(path, *args, **kwargs):
        hashed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store, "sha256_of", counting)
    return hashed


def test_full_hashes_every_file_once_and_fast_none(detr_dir, monkeypatch):
    listed = sorted(store.read_json(detr_dir / "manifest.json")["files"])
    hashed = count_hashes(monkeypatch)
    verify_manifest(detr_dir, mode="fast")
    assert hashed == []
    verify_manifest(detr_dir, mode="full")
    assert sorted(hashed) == listed


def test_the_mode_comes_from_the_environment_the_workflow_sets(detr_dir, monkeypatch):
    hashed = count_hashes(monkeypatch)
    verify_manifest(detr_dir)  # default: fast
    assert hashed == []
    monkeypatch.setenv(VERIFY_ENV, "full")
    verify_manifest(detr_dir)
    assert len(hashed) == 2
    monkeypatch.setenv(VERIFY_ENV, "thorough")
    with pytest.raises(ValueError, match=r"'thorough' is not one of \('fast', 'full'\) \(config key models.verify\)"):
        verify_manifest(detr_dir)


def test_the_job_log_says_how_the_folder_was_checked(detr_dir, caplog):
    with caplog.at_level("INFO", logger="photoprivacy.models.store"):
        verify_manifest(detr_dir, mode="full")
    assert "models.verify full: 2 of 2 files hashed" in caplog.text


def test_a_missing_offline_file_says_the_workflow_builds_it_again(detr_dir):
    (detr_dir / "model.safetensors").unlink()
    with pytest.raises(ModelNotAvailable) as error:
        verify_manifest(detr_dir)
    message = str(error.value)
    assert f"model.safetensors listed in {detr_dir / 'manifest.json'} are missing from {detr_dir}/" in message
    assert "Rerun the workflow (make offline): it builds the same bytes again" in message


def test_a_missing_hub_file_says_where_to_download_it(detr_dir):
    manifest = store.read_json(detr_dir / "manifest.json")
    manifest.update(source="hub", id="facebook/detr-resnet-50", revision="a" * 40)
    write_json(detr_dir / "manifest.json", manifest)
    (detr_dir / "config.json").unlink()
    with pytest.raises(ModelNotAvailable) as error:
        verify_manifest(detr_dir)
    message = str(error.value)
    assert "config.json listed in" in message and "Rerun the workflow (make run): it downloads them again" in message
    assert f"download them from https://huggingface.co/facebook/detr-resnet-50/tree/{'a' * 40} " in message
    assert f"and put them in {detr_dir}/" in message


def test_fetch_downloads_again_a_file_the_previous_manifest_lists(detr_dir):
    """Present required files are not enough when the folder's manifest lists one more: the
    restore rule relies on the fetch getting that one back (here: the hub is out of reach)."""
    manifest = store.read_json(detr_dir / "manifest.json")
    manifest["files"]["tokenizer.json"] = {"bytes": 2, "sha256": "0" * 64}
    write_json(detr_dir / "manifest.json", manifest)
    with pytest.raises(ModelNotAvailable) as error:
        fetch_pretrained("detr", "facebook/detr-resnet-50", "a" * 40, detr_dir)
    assert re.search(r"Download these files from \S+ : tokenizer.json\n", str(error.value))
    assert "HF_HUB_OFFLINE is set" in str(error.value)
    assert "try the workflow with `make offline`" in str(error.value)


def test_model_files_and_artifacts_get_the_permissions_of_a_new_file(tmp_path):
    expected = 0o666 & ~artifacts._UMASK
    assert expected == FILE_MODE
    build_random("detr", tmp_path / "detr", "tiny", seed=0)  # safetensors writes through a 0600 temp file
    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "detr").iterdir()}
    assert set(modes) == {"config.json", "model.safetensors", "manifest.json"}
    assert set(modes.values()) == {expected}
    write_bytes_atomic(tmp_path / "artifact.bin", b"x")
    assert (tmp_path / "artifact.bin").stat().st_mode & 0o777 == expected
    if artifacts._UMASK == 0o022:
        assert expected == 0o644


def test_files_placed_by_hand_with_0600_become_readable(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    os.chmod(tmp_path / "model.safetensors", 0o600)
    write_manifest(tmp_path, "hub", "org/model", "a" * 40)
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == 0o600 | (FILE_MODE & 0o444)


def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    write_bytes_atomic(target, b"old,complete\n")

    class Interrupted(OSError):
        pass

    def half_then_fail(path, mode):
        out = open(path, mode)  # noqa: SIM115 - handed to the writer, which closes it
        real_write = out.write

        def write(data):
            real_write(data[: len(data) // 2])
            raise Interrupted("disk full")

        out.write = write
        return out

    monkeypatch.setattr(artifacts, "open", half_then_fail, raising=False)  # the writer's open() only
    with pytest.raises(Interrupted):
        write_bytes_atomic(target, b"new,longer,content\n" * 100)
    assert target.read_bytes() == b"old,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


# ---------------------------------------------------------------- workflow


def make_project(root, offline=True, **models):
    """Two small photos and the repository's config with small settings."""
    save_image(root / "photos" / "street.png", gradient_image(96, 128, seed=1))
    save_image(root / "photos" / "beach.jpg", gradient_image(80, 100, seed=2))
    config = default_config()
    config["input"]["images"] = str(root / "photos")
    config["execution"].update(shards=2, batch_size=2)
    config["fakes"]["steps"] = 2
    config["figures"]["panels"] = 1
    config["models"].update(models)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def digests(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.mark.workflow
def test_deleted_weight_files_are_built_again_and_nothing_else_reruns(tmp_path):
    project = make_project(tmp_path)
    run_snakemake(project)
    models = project / "resources" / "models" / "offline"
    detr, blip = models / "detr-tiny", models / "captioner_blip-tiny"
    before = {detr: digests(detr), blip: digests(blip)}
    (detr / "model.safetensors").unlink()
    (blip / "vocab.txt").unlink()
    (blip / "tokenizer.json").unlink()
    assert planned_jobs(project) == {"restore_model_detr": 1, "restore_model_captioner_blip": 1, "all": 1}
    run_snakemake(project)
    assert {detr: digests(detr), blip: digests(blip)} == before  # same seed, same bytes
    # The manifests are newer than the stages' outputs, with the checksums Snakemake recorded.
    assert planned_jobs(project) == {}
    # models.verify is no parameter of any job: switching it reruns nothing ...
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["models"]["verify"] = "full"
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(project) == {}
    # ... and reaches the jobs: a detection job hashes every file of DETR.
    detect = model_job(project, "detect")
    log_file = next((project / "results" / "logs" / "detect").glob("*.log"))
    for record in (project / "results" / "shards" / "detect").glob("*.reuse.json"):
        record.unlink()  # else the forced job puts its shards back without loading the model
    run_snakemake(project, "--forcerun", detect, "--until", detect)
    log = log_file.read_text()
    assert f"{Path('resources/models/offline/detr-tiny')} matches its manifest (models.verify full: 2 of 2 files" in log


@pytest.mark.workflow
def test_make_run_without_network_fails_within_seconds_and_says_what_to_do(tmp_path):
    project = make_project(tmp_path)
    config = yaml.safe_load((project / "config.yaml").read_text())
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there: the hub is out of reach anywhere
    start = time.monotonic()
    done = run_snakemake(project, profile="default", env=env, check=False)
    elapsed = time.monotonic() - start
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert elapsed < 60, f"took {elapsed:.0f} s"
    named = [family for family in ("detr", "face_generator", "captioner_blip", "scene_classifier")
             if f"Could not fetch {config['models'][family]['id']} at revision" in output]
    assert named, output[-3000:]
    for family in named:
        spec = config["models"][family]
        assert f"https://huggingface.co/{spec['id']}/tree/{spec['revision']}" in output
    assert "try the workflow with `make offline`" in output
    assert "Retrying" not in output
