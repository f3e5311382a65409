"""A run killed mid-way (a crashed node, an expired allocation) recovers: --unlock, then the same
command, gives the files an uninterrupted run gives, byte for byte."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, gradient_image, save_image, small_config

pytestmark = pytest.mark.workflow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# Logs and benchmarks record times, the intake index the photos' paths and modification times
# (two project folders here), and so do the model jobs' reuse records (keyed by the intake
# index); everything else a run writes must not depend on how it got there.
VOLATILE = ("results/logs/", "results/benchmarks/", "results/shards/images/")
RECORDS = ".reuse.json"


def make_project(workdir):
    photos = workdir / "photos"
    for index, (height, width) in enumerate(((120, 200), (160, 90), (100, 100))):
        save_image(photos / f"photo{index}.png", gradient_image(height, width, seed=index))
    config = small_config(photos)
    config["execution"]["shards"] = 2
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def command(workdir, *args):
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--profile", str(REPO / "profiles" / "offline"), "protect", *args]


def run(workdir, *args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(command(workdir, *args), capture_output=True, text=True, env=env, cwd=workdir)


def digests(workdir):
    found = {}
    for path in sorted((workdir / "results").rglob("*")):
        relative = path.relative_to(workdir).as_posix()
        if path.is_file() and not relative.startswith(VOLATILE) and not relative.endswith(RECORDS):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def kill_when(workdir, ready, timeout=600):
    """Start the run, wait until ``ready()``, then SIGKILL Snakemake and its jobs, as a crash would."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    process = subprocess.Popen(command(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                               cwd=workdir, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the run ended before the moment to kill it"
            assert time.monotonic() < deadline, "the run did not get far enough in time"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_run_recovers_with_unlock_and_the_same_command(tmp_path):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    for workdir in (reference, crashed):
        make_project(workdir)
    done = run(reference)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # Killed once the detection job is done: later stages are cut off mid-way.
    kill_when(crashed, lambda: any((crashed / "results" / "shards" / "detect").glob("*.tsv")))
    assert digests(crashed) != digests(reference)

    again = run(crashed)
    assert again.returncode != 0 and "LockException" in again.stdout + again.stderr
    unlocked = run(crashed, "--unlock")
    assert unlocked.returncode == 0, unlocked.stdout[-3000:] + unlocked.stderr[-3000:]
    recovered = run(crashed)
    assert recovered.returncode == 0, recovered.stdout[-3000:] + recovered.stderr[-3000:]
    assert digests(crashed) == digests(reference)
    assert "Nothing to be done" in run(crashed, "-n").stdout
