"""One Snakemake call of the workflow, timed: its wall seconds and, per stage, its jobs.

Used by `gpu_stages.py --workflow` and `--fixed-cost`. It relies only on the timed
checkout's Snakefile, profiles/offline and config.yaml, and puts that checkout's src/
first on the Python path of the call, so that an older commit checked out with
`git worktree` is timed with its own library.

Jobs are read from Snakemake's benchmark files, results/benchmarks/<stage>/**/*.tsv:
the stage is the folder below results/benchmarks/, whatever the jobs and files under
it are called (one per shard or one per group of shards). A job's end is its
benchmark file's modification time, its start that end minus the file's `s`. Snakemake
writes the file as the job's process returns and touches it (with the job's outputs)
when it takes the job in, right after; the job log is no end: its last line comes
before the job writes its shard indexes and Python exits (about 2 s for a model job on
this CPU), and evaluate logs nothing after its images. A stage's span is its first
job's start to its last job's end; stages whose jobs interleave have overlapping spans.

A job log (results/logs/<same path>.log) splits a model job, where it can. A script
logs through the logger `photoprivacy` (joblog.log_to_file); its first line there
comes after the imports and the model load (detect, caption, scene, evaluate; the
log's very first line can be the library's manifest check, `photoprivacy.models.store`,
written before the weights load), and its "shard done" or "job done" line after the
images. `load s` is the job's start to that first line, `images s` from there to the
done line (or to the job's end: evaluate logs none), `exit s` the done line to the
job's end, and a job's fixed cost is its seconds minus its images seconds. A job whose
script logs nothing before its done line (language, fakes) has no split: its fixed
cost is its seconds minus the `model_seconds` it logged, if it did, else the mean
seconds of the stage's jobs in a call on one photo (--fixed-cost), else unknown.
"""

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import mean

import yaml
from common import benchmark_row, scratch_project, snakemake, snakemake_command, snakemake_env

MODEL_BUILD_RULES = re.compile(r"build_offline_model|fetch_model|restore_model_\w+")
# Stage folders whose jobs load a model; evaluate's are evaluate_<scenario>.
MODEL_STAGES = ("detect", "caption", "scene", "language", "fakes")
# joblog's format: "%(asctime)s %(levelname)s %(name)s: %(message)s", asctime as logging's default.
LOG_LINE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (\w+) (\S+): (.*)")
SCRIPT_LOGGER = "photoprivacy"
AFTER_IMAGES = re.compile(r"\bdone\b")  # "shard done: ...", "job done: ..."
MODEL_SECONDS = re.compile(r"'model_seconds': ([0-9.eE+-]+)")


def is_model_stage(stage):
    return stage in MODEL_STAGES or stage.startswith("evaluate_")


@dataclass
class Job:
    stage: str
    name: str  # its benchmark file's path below the stage's folder
    seconds: float  # the benchmark file's `s`
    max_rss_mb: float | None
    end: float  # epoch seconds
    loaded: float | None  # epoch seconds of the script's first line, when it comes before the images
    done: float | None  # epoch seconds of the script's done line
    model_seconds: float | None

    @property
    def start(self):
        return self.end - self.seconds

    @property
    def load_seconds(self):
        """Starting Python, imports and the model load, as logged."""
        return None if self.loaded is None else self.loaded - self.start

    @property
    def images_seconds(self):
        return None if self.loaded is None else (self.done or self.end) - self.loaded

    @property
    def exit_seconds(self):
        """From the done line to the job's end: writing shard indexes, Python's exit."""
        return None if self.done is None else self.end - self.done

    @property
    def fixed_seconds(self):
        """The job's seconds minus its images seconds (or its model seconds), as logged."""
        if self.loaded is not None:
            return self.seconds - self.images_seconds
        return None if self.model_seconds is None else self.seconds - self.model_seconds


@dataclass
class Call:
    repo: Path
    workdir: Path
    images: int
    targets: list
    wall: float
    jobs: list

    def stages(self):
        """Stage -> its jobs, stages in the order their first job started."""
        stages = {}
        for job in sorted(self.jobs, key=lambda job: job.start):
            stages.setdefault(job.stage, []).append(job)
        return stages


def project(repo, images, device, size, batch_size, overrides, photos=None):
    """A scratch project of ``photos`` (copied) and ``images`` generated 640x480 photos, with the
    defaults of ``repo``'s config.yaml, the execution and model size given and ``overrides``
    ("section.key=value", the value read as YAML) applied."""
    workdir = scratch_project(photos, generated=images, defaults=Path(repo) / "config.yaml",
                              execution={"device": device, "batch_size": batch_size},
                              models={"offline_size": size})
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    for override in overrides:
        dotted, separator, value = override.partition("=")
        if not separator:
            raise SystemExit(f"--config {override!r}: expected section.key=value")
        *sections, key = dotted.split(".")
        section = config
        for name in sections:
            section = section.setdefault(name, {})
        section[key] = yaml.safe_load(value)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def library_file(repo, workdir):
    """Where the photoprivacy package that a Snakemake call in ``workdir`` imports lives."""
    result = subprocess.run([sys.executable, "-c", "import photoprivacy; print(photoprivacy.__file__)"],
                            env=snakemake_env(repo), cwd=workdir, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def commit_of(repo):
    result = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "not a git checkout"


def dag_outputs(workdir, repo, target):
    """(output file, rule) of every job in ``target``'s DAG, from Snakemake's --summary."""
    result = subprocess.run(snakemake_command(workdir, "--summary", target, repo=repo), env=snakemake_env(repo),
                            cwd=workdir, capture_output=True, text=True)
    lines = result.stdout.splitlines()
    header = next((index for index, line in enumerate(lines) if line.startswith("output_file\t")), None)
    if result.returncode or header is None:
        raise SystemExit(f"snakemake --summary {target} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return [tuple(line.split("\t")[:3:2]) for line in lines[header + 1 :] if line.strip()]


def stage_targets(outputs, stages):
    """The outputs of ``stages``' jobs: shard indexes under results/shards/<stage>/ and the
    outputs of rules named <stage>_... (evaluate's jobs write tables, not indexes)."""
    targets = {}
    for stage in stages:
        found = [path for path, rule in outputs
                 if path.startswith(f"results/shards/{stage}/") or rule.startswith(f"{stage}_")]
        if not found:
            raise SystemExit(f"--targets {stage}: no job of that stage in the DAG of rule all")
        targets.update(dict.fromkeys(found))
    return list(targets)


def run_snakemake(workdir, repo, log, *args):
    """Wall seconds of a Snakemake call whose output goes to ``log``; on failure, its end and exit."""
    try:
        return snakemake(workdir, *args, log=log, repo=repo)
    except subprocess.CalledProcessError:
        raise SystemExit(f"Snakemake failed ({' '.join(args)}); the end of {log}:\n"
                         f"{Path(log).read_text()[-4000:]}") from None


def timed_call(workdir, repo, images, stages=None, cores=None):
    """Build the models the targets need (untimed), then time one call: rule protect, or the jobs of
    ``stages`` only. Returns the Call."""
    outputs = dag_outputs(workdir, repo, "all" if stages else "protect")
    models = [path for path, rule in outputs if MODEL_BUILD_RULES.fullmatch(rule)]
    targets = stage_targets(outputs, stages) if stages else ["protect"]
    logs = workdir / "benchmark_logs"
    logs.mkdir(exist_ok=True)
    if models:
        run_snakemake(workdir, repo, logs / "models.log", *models)
    began = time.time()
    cores = ["--cores", str(cores)] if cores else []
    wall = run_snakemake(workdir, repo, logs / "timed.log", "--scheduler", "greedy", *cores, *targets)
    return Call(Path(repo), workdir, images, stages or ["protect"], wall, read_jobs(workdir, since=began))


def read_jobs(workdir, since):
    """Jobs whose benchmark files were written after ``since`` (epoch seconds), model builds left out."""
    benchmarks, logs = workdir / "results" / "benchmarks", workdir / "results" / "logs"
    jobs = []
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        relative = tsv.relative_to(benchmarks)
        end = tsv.stat().st_mtime
        if relative.parts[0] == "models" or end < since:
            continue
        stage = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        row = benchmark_row(tsv)
        max_rss = None if row.get("max_rss", "NA") in ("NA", "-", "") else float(row["max_rss"])
        name = str(Path(*relative.parts[1:])) if len(relative.parts) > 1 else relative.name
        jobs.append(Job(stage, name, float(row["s"]), max_rss, end, *log_facts(logs / relative.with_suffix(".log"))))
    return jobs


def log_facts(log):
    """Epoch seconds of the script's first line if it comes before the images, of its done line, and
    the summed model_seconds logged (each None where the log has none)."""
    loaded = done = model_seconds = None
    seen_script_line = False
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    for line in lines:
        parsed = LOG_LINE.match(line)
        if not parsed:  # tracebacks, progress bars and other raw stderr
            continue
        stamp, _, logger, message = parsed.groups()
        seconds = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if logger == SCRIPT_LOGGER:
            after_images = bool(AFTER_IMAGES.search(message))
            if not seen_script_line and not after_images:
                loaded = seconds
            if after_images and done is None:
                done = seconds
            seen_script_line = True
        found = MODEL_SECONDS.search(message)
        if found:
            model_seconds = (model_seconds or 0.0) + float(found[1])
    return loaded, done, model_seconds


def fixed_seconds(jobs, single=None):
    """(mean fixed seconds per job, how it was found) of a model stage's jobs: as logged where every
    job's log tells it, else the mean seconds of ``single`` (the same stage's jobs in a call on one photo)."""
    if all(job.fixed_seconds is not None for job in jobs):
        return mean(job.fixed_seconds for job in jobs), "log" if jobs[0].loaded else "s - model s"
    if single:
        return mean(job.seconds for job in single), "N=1 job s"
    return None, ""


def bare_stage(stage):
    """The gpu_stages.py stage timed bare for a workflow stage folder."""
    return "evaluate" if stage.startswith("evaluate_") else stage


def number(value, width, digits=2):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_call(call, bare_rows=None, single=None):
    """The call's wall seconds and its table of stages; ``bare_rows`` (stage -> gpu_stages Row) adds
    the in-process rates, ``single`` (a Call on one photo) the fixed cost of jobs that log no split."""
    bare_rows = bare_rows or {}
    single_stages = single.stages() if single else {}
    print(f"whole call ({' '.join(call.targets)}, --scheduler greedy) on {call.images} photos: {call.wall:.1f} s wall, "
          f"{call.images / call.wall:.3f} images/s, {len(call.jobs)} jobs with a benchmark file")
    header = ("stage", "jobs", "job s", "span s", "img/s", "s/job", "load s/job", "fixed s/job", "from",
              "shard fn/s", "bare fwd/s")
    print(f"{header[0]:<22}{header[1]:>5}{header[2]:>9}{header[3]:>9}{header[4]:>8}{header[5]:>8}{header[6]:>11}"
          f"{header[7]:>12}  {header[8]:<12}{header[9]:>11}{header[10]:>11}")
    for stage, jobs in call.stages().items():
        seconds = sum(job.seconds for job in jobs)
        span = max(job.end for job in jobs) - min(job.start for job in jobs)
        load, fixed, source = [], None, ""
        if is_model_stage(stage):
            load = [job.load_seconds for job in jobs if job.load_seconds is not None]
            fixed, source = fixed_seconds(jobs, single_stages.get(stage))
        row = bare_rows.get(bare_stage(stage))
        print(f"{stage:<22}{len(jobs):>5}{seconds:>9.1f}{span:>9.1f}{call.images / span:>8.2f}"
              f"{seconds / len(jobs):>8.2f}{number(mean(load) if load else None, 11)}{number(fixed, 12)}"
              f"  {source:<12}{number(row and row.count / row.stage_seconds, 11)}"
              f"{number(row and row.count / row.forward_seconds, 11)}")


def print_jobs(call):
    """Each model job of ``call``; with one photo, its seconds are its fixed cost."""
    print(f"model jobs of the call on {call.images} photo(s), as logged: load (start to the script's first line), "
          "images (to its done line), exit (to the job's end), fixed (job s - images s, or - model s)")
    print(f"{'stage':<22}{'job':<24}{'job s':>8}{'load s':>8}{'images s':>9}{'exit s':>8}{'model s':>9}"
          f"{'fixed s':>9}{'max_rss MB':>11}")
    for stage, jobs in call.stages().items():
        for job in jobs if is_model_stage(stage) else []:
            print(f"{stage:<22}{job.name:<24}{job.seconds:>8.2f}{number(job.load_seconds, 8)}"
                  f"{number(job.images_seconds, 9)}{number(job.exit_seconds, 8)}{number(job.model_seconds, 9)}"
                  f"{number(job.fixed_seconds, 9)}{number(job.max_rss_mb, 11, 0)}")


def print_ratio(call, bare_rows, stages=("detect", "caption", "scene")):
    """Whole call over the sum of ``stages``' bare forward passes, where all of them were timed."""
    if not all(stage in bare_rows for stage in stages):
        return
    bare = sum(bare_rows[stage].forward_seconds for stage in stages)
    print(f"whole call / sum of bare passes ({' + '.join(stages)}): {call.wall:.1f} s / {bare:.1f} s "
          f"= {call.wall / bare:.2f}")
