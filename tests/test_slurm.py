"""The workflow on SLURM (profiles/slurm, snakemake-executor-plugin-slurm).

On a real cluster (CI starts a one-node one with .ci/slurm-up): every job but the
local rules goes through sbatch, the model stages to the partition of their
``resources.<stage>.slurm_partition``, everything else to the profile's default
partition, and the protected photos, decision logs and per-image artifacts are
byte-identical to a local run. Skipped where sbatch is missing or no node is idle.
Without a cluster, a dry run still checks the partitions that profiles/slurm and
its gpu.yaml give each rule.
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, default_config, gradient_image, save_image

pytestmark = pytest.mark.workflow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SLURM_PROFILE = REPO / "profiles" / "slurm"
GPU_OVERLAY = SLURM_PROFILE / "gpu.yaml"
MODEL_STAGES = ("detect", "caption", "scene", "fakes", "evaluate", "language")
RUN_TIMEOUT = 1200  # seconds per Snakemake run
# Per-image artifacts, protected photos and decision logs; not logs, benchmarks or
# shard indexes (these hold absolute paths and modification times).
COMPARED_SUFFIXES = {".json", ".npz", ".png"}
NOT_COMPARED = {"logs", "benchmarks", "shards"}
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\S+) \(log: \S*/slurm_logs/rule_([^/\s]+)/")
RULE_LINE = re.compile(r"^(local)?(?:rule|checkpoint) (\w+):$", re.MULTILINE)


def write_project(workdir, photos, partitions=None):
    """A project as tests/test_workflow.py makes one (batch 2, 5 DDIM steps), in 2 shards (one model
    job over both, one job per shard for the other stages: each SLURM job costs seconds of polling),
    with small memory requests so that jobs fit on a CI machine."""
    (workdir / "photos").mkdir(parents=True)
    for photo in photos:
        shutil.copy(photo, workdir / "photos" / photo.name)
    config = default_config()
    config["input"]["images"] = "photos"
    config["execution"].update(shards=2, batch_size=2)
    config["fakes"]["steps"] = 5
    for stage, resources in config["resources"].items():
        resources.update(mem_mb=1000, runtime=30)
        if partitions:
            resources["slurm_partition"] = partitions.get(stage)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def command(workdir, *args):
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]


def environment():
    return dict(os.environ, HF_HUB_OFFLINE="1")


def stage_of(rule):
    """detect_0003 or detect_0000_0003 -> detect, evaluate_scenario1_0003 -> evaluate (base variant only)."""
    stage = re.sub(r"(_\d{4})+$", "", rule)
    return "evaluate" if stage.startswith("evaluate_") else stage


def planned_partitions(out):
    """Rule name -> slurm_partition (None: not set) from a dry run's job listing."""
    partitions = {}
    for block in re.split(r"\n(?=\[)", out):
        name = RULE_LINE.search(block)
        resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        if name and resources:
            found = re.search(r"(?:^|, )slurm_partition=([^,]+)", resources.group(1))
            partitions[name.group(2)] = found.group(1) if found else None
    return partitions


# ---------------------------------------------------------------- without a cluster
def test_gpu_overlay_sends_model_stages_to_gpu_partition(tmp_path):
    """profiles/slurm: every rule on its default partition; with gpu.yaml, the model
    stages it gives a GPU on the GPU partition (language only with BERT attention)."""
    photos = [save_image(tmp_path / "in" / f"p{i}.png", gradient_image(60, 80, seed=i)) for i in range(3)]
    workdir = write_project(tmp_path / "project", photos)
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    overlay = yaml.safe_load(GPU_OVERLAY.read_text())
    cpu = profile["default-resources"]["slurm_partition"]
    assert "slurm_account" not in profile["default-resources"]  # none: jobs go without -A
    assert profile["slurm-status-command"] == "squeue"

    def dry_run(*extra):
        done = subprocess.run(command(workdir, "-n", "--profile", str(SLURM_PROFILE), *extra),
                              capture_output=True, text=True, env=environment(), cwd=workdir)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return planned_partitions(done.stdout + done.stderr)

    plain = dry_run("--config", "offline=True")
    assert plain and set(plain.values()) == {cpu}
    for method in ("dependency", "bert_attention"):
        planned = dry_run("--configfile", str(workdir / "config.yaml"), str(GPU_OVERLAY),
                          "--config", "offline=True", f"language={{method: {method}}}")
        for rule, partition in planned.items():
            stage = stage_of(rule)
            on_gpu = stage in MODEL_STAGES and (stage != "language" or method == "bert_attention")
            expected = overlay["resources"][stage]["slurm_partition"] if on_gpu else cpu
            assert partition == expected, (method, rule, partition)
        assert any(rule.startswith("detect_") for rule in planned)
        assert any(rule.startswith("evaluate_") for rule in planned)


# ---------------------------------------------------------------- on a cluster
def cluster_partitions():
    """(default partition, another partition or the default) of an idle cluster, or a skip."""
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        pytest.skip("no SLURM here (sbatch not on PATH; CI starts a cluster with .ci/slurm-up)")
    try:  # without a controller sinfo retries for about 40 s
        listing = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.skip("no SLURM controller answers sinfo")
    rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    if listing.returncode != 0 or not any(state in ("idle", "mix") for _, state in rows):
        pytest.skip(f"no idle SLURM node: {listing.stdout.strip()} {listing.stderr.strip()}")
    names = [name.rstrip("*") for name, _ in rows]
    default = next((name.rstrip("*") for name, _ in rows if name.endswith("*")), names[0])
    other = os.environ.get("SLURM_TEST_GPU_PARTITION") or next((n for n in names if n != default), default)
    return default, other


def run_slurm(workdir, default_partition, log):
    """Runs `protect` through profiles/slurm; while it runs, asks SLURM for the partition of
    job it submits. Returns (output, [(rule, partition) of each SLURM job])."""
    args = command(
        workdir, "protect", "--profile", str(SLURM_PROFILE),
        # the test cluster's partition: overrides the profile's placeholder
        "--default-resources", f"slurm_partition={default_partition}", "mem_mb=1000", "runtime=30",
        "--jobs", "8", "--latency-wait", "5",
        # small jobs: poll often (the defaults suit jobs of minutes)
        "--seconds-between-status-checks", "1", "--slurm-init-seconds-before-status-checks", "1",
        "--config", "offline=True",
    )
    lines, partitions = [], []
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=environment(), cwd=workdir)

    def read():
        for line in process.stdout:
            lines.append(line)
            log.write(line)
            for jobid, rule in SUBMITTED.findall(line):
                asked = subprocess.run(["squeue", "-h", "-j", jobid, "--states=all", "-o", "%P"],
                                       capture_output=True, text=True)
                partitions.append((rule, asked.stdout.strip() or f"unknown ({asked.stderr.strip()})"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM jobs
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(10)
        pytest.fail(f"SLURM run not done after {RUN_TIMEOUT}s:\n{''.join(lines)[-4000:]}")
    reader.join(30)
    out = "".join(lines)
    assert process.returncode == 0, f"SLURM run failed:\n{out[-6000:]}"
    return out, partitions


def digests(workdir):
    results = workdir / "results"
    found = {}
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(results)
        if path.is_file() and path.suffix in COMPARED_SUFFIXES and relative.parts[0] not in NOT_COMPARED:
            found[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_slurm_run_matches_local_run(tmp_path, shared_photos):
    default_partition, gpu_partition = cluster_partitions()
    # The model stages on the second partition (as gpu.yaml does with the GPU one): the
    # same config in both projects, as resources are no params. language (spaCy) stays.
    stage_partitions = {stage: gpu_partition for stage in MODEL_STAGES}
    slurm_dir = write_project(tmp_path / "slurm", shared_photos, stage_partitions)
    local_dir = write_project(tmp_path / "local", shared_photos, stage_partitions)

    started = time.monotonic()
    # The local run shares the CPUs with the SLURM one, which mostly waits for job states.
    with open(tmp_path / "local.log", "w") as local_log:
        local_run = subprocess.Popen(command(local_dir, "protect", "--profile", str(REPO / "profiles" / "offline")),
                                     stdout=local_log, stderr=subprocess.STDOUT, env=environment(), cwd=local_dir)
        try:
            with open(tmp_path / "slurm.log", "w") as slurm_log:
                out, partitions = run_slurm(slurm_dir, default_partition, slurm_log)
            local_run.wait(timeout=RUN_TIMEOUT)
        finally:
            if local_run.poll() is None:
                local_run.kill()
    local_out = (tmp_path / "local.log").read_text()
    assert local_run.returncode == 0, f"local run failed:\n{local_out[-6000:]}"
    print(f"SLURM and local runs: {time.monotonic() - started:.0f}s, {len(partitions)} SLURM jobs")

    # Every job but the local rules went through sbatch, to the partition it asked for.
    jobs = RULE_LINE.findall(out)
    remote = sorted(name for is_local, name in jobs if not is_local)
    assert remote and sorted(rule for rule, _ in partitions) == remote, (remote, partitions)
    local_jobs = {name for is_local, name in jobs if is_local}
    assert {"protect"} | {name for _, name in jobs if name.startswith("images_")} <= local_jobs
    assert not {name for name in local_jobs if stage_of(name) in MODEL_STAGES or name == "build_offline_model"}
    assert "build_offline_model" in remote and any(name.startswith("detect_") for name in remote)
    for rule, partition in partitions:
        stage = stage_of(rule)
        expected = gpu_partition if stage in MODEL_STAGES and stage != "language" else default_partition
        assert partition == expected, (rule, partition)
    assert sorted(name for _, name in jobs) == sorted(name for _, name in RULE_LINE.findall(local_out))

    # Byte-identical results.
    slurm_files, local_files = digests(slurm_dir), digests(local_dir)
    assert set(slurm_files) == set(local_files)
    for scenario in ("scenario1", "scenario2"):
        for photo in shared_photos:
            assert f"final/default/{scenario}/{photo.stem}.png" in slurm_files
            assert f"final/default/{scenario}/{photo.stem}.decisions.json" in slurm_files
    assert any(name.startswith("detect/") and name.endswith(".npz") for name in slurm_files)
    differ = sorted(name for name in slurm_files if slurm_files[name] != local_files[name])
    assert not differ, f"{len(differ)} of {len(slurm_files)} files differ: {differ[:20]}"

    # Other partitions rerun nothing: resources are no params.
    moved = subprocess.run(
        command(slurm_dir, "protect", "-n", "--profile", str(SLURM_PROFILE),
                "--default-resources", "slurm_partition=elsewhere",
                "--config", "offline=True",
                "resources={" + ", ".join(f"{s}: {{slurm_partition: other}}" for s in MODEL_STAGES) + "}"),
        capture_output=True, text=True, env=environment(), cwd=slurm_dir)
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert "Nothing to be done" in moved.stdout + moved.stderr, (moved.stdout + moved.stderr)[-3000:]
