"""Every model stage on one device: images/s as the workflow runs it next to the bare forward pass.

    .venv/bin/python benchmarks/gpu_stages.py [--device cuda] [--size full] [--images 256] [--shared] [--batch-size 16]
        [--stages detect detect_fp16 caption language scene fakes evaluate] [--steps 50] [--faces 16]
    .venv/bin/python benchmarks/gpu_stages.py --workflow [--fixed-cost] [--bare] [--targets detect caption scene]
        [--config language.method=bert_attention ...] [--repo PATH] [--cores N] [--keep] [options above]

Generates --images random 640x480 JPEGs (after the shared photos, with --shared)
and random models of the real classes (built first, not timed), then for each
stage, in this process and without Snakemake: loads the model as
scripts/<stage>.py does (timed apart), runs the model's bare forward pass on
the preprocessed inputs already on the device (batched as the stage batches
them, one warm-up batch first, under torch.inference_mode), then the stage's
shard function as the script calls it (decode, preprocessing, model,
postprocessing, artifact writing). Stage settings are config.yaml's defaults.
The shard function runs after the bare pass, so it finds the device warmed up.
CUDA work is synchronised before and after each timing.

`outside fwd` is (stage time - forward time) per unit: what the stage spends
beyond the model call. language runs BERT on synthetic English captions (one
forward per caption, as the stage does); fakes generates one face for each of
the first --faces images (the unit is a face; its forward is --steps UNet
passes); evaluate re-detects (DETR) and recaptions protected copies, and its
stage time also holds CenterFace, dlib and the image metrics on the CPU.

--workflow times one Snakemake call instead, over the same photos, on
the offline profile of --repo (its Snakefile, profiles/offline, config.yaml's
defaults with execution.device, execution.batch_size, models.offline_size and
--config applied, and its src/ first on the path): rule protect (scenarios 1
and 2), or with --targets only the jobs of those stages (their shard indexes),
with --scheduler greedy. The models those targets need are built first in a
separate call, not timed. It prints the call's wall seconds and images/s and,
per stage (the folder below results/benchmarks/), its jobs, their summed
seconds, its span (first job start to last job end), seconds per job, load
seconds per model job (its start to its script's first log line: Python, imports,
model load) and the fixed cost per model job (its seconds minus the seconds its
log shows it spent on its images); workflow_call.py says how each is read.
--fixed-cost also times the call on the first photo alone (models shared) and
lists each model job's seconds there: its fixed cost, used for stages whose logs
show no split (language, fakes).
--bare first runs the per-stage timings above on the same photos (the stages
of the targets, or --stages; this checkout's library, whatever --repo is), then
prints their rates next to each stage and the whole call over the sum of the
bare passes of detect, caption and scene.
"""

import argparse
import functools
import gc
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import workflow_call
import yaml
from common import REPO, scratch_project, shared_photos, timed
from PIL import Image

STAGES = ("detect", "detect_fp16", "caption", "language", "scene", "fakes", "evaluate")
CAPTIONS = (
    "a man riding a horse on the beach",
    "two people walking down the street with a dog",
    "a woman sitting on a bench in the park",
    "a group of people playing with a ball on the grass",
)


@dataclass
class Row:
    stage: str
    unit: str
    count: int
    load_seconds: float
    stage_seconds: float
    forward_seconds: float
    note: str = ""


class Bench:
    """The photos, models and settings shared by the stages; each stage method returns its Row."""

    def __init__(self, args, workdir):
        from photoprivacy.devices import pick_device
        from photoprivacy.images import load_rgb

        self.args, self.workdir = args, workdir
        self.device = pick_device(args.device)
        self.config = yaml.safe_load((workdir / "config.yaml").read_text())
        self.max_pixels = self.config["execution"]["max_image_pixels"]
        self.photos = sorted((workdir / "photos").iterdir())
        self.images = [load_rgb(path, self.max_pixels) for path in self.photos]
        self.out = workdir / "results"

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def clock(self, function):
        """Wall seconds of ``function()``, the device's queued work finished before and after."""
        self.synchronize()
        return timed(lambda: (function(), self.synchronize()))

    def loaded(self, load):
        """(what ``load()`` returns, its seconds)."""
        result = {}
        seconds = self.clock(lambda: result.setdefault("loaded", load()))
        return result["loaded"], seconds

    def forward_seconds(self, forward, inputs):
        """Seconds of ``forward`` over every prepared input after one warm-up call."""
        with torch.inference_mode():
            forward(inputs[0])
            return self.clock(lambda: [forward(batch) for batch in inputs])

    def model_dir(self, family):
        from photoprivacy.models.families import build_random

        folder = self.workdir / "models" / f"{family}-{self.args.size}"
        if not folder.is_dir():
            build_random(family, folder, self.args.size, seed=0)
        return folder

    def batches(self, values, size=None):
        size = size or self.args.batch_size
        return [values[start : start + size] for start in range(0, len(values), size)]

    def items(self, stage, **inputs):
        """Per photo: id, path, outputs under results/<stage>/, and ``inputs`` (name -> pattern with {id})."""
        items = []
        for photo in self.photos:
            item = {"id": photo.stem, "path": str(photo), "relpath": photo.name, "source": photo.name,
                    "json": str(self.out / stage / f"{photo.stem}.json"),
                    "npz": str(self.out / stage / f"{photo.stem}.npz")}
            item.update({name: str(self.out / pattern.format(id=photo.stem)) for name, pattern in inputs.items()})
            items.append(item)
        return items

    # ------------------------------------------------------------ stages

    def detect(self, half=False):
        from photoprivacy.detection.detr import DetrDetector, preprocess
        from photoprivacy.detection.stage import run_detect_shard

        settings = self.config["detect"]
        model_dir = self.model_dir("detr")
        detector, load = self.loaded(lambda: DetrDetector(
            model_dir, settings["threshold"], settings["short_side"], settings["max_side"],
            device=self.device, half=half))
        dtype = torch.float16 if detector.half else torch.float32
        inputs = []
        for batch in self.batches(self.images):
            pixel_values, pixel_mask = preprocess(batch, settings["short_side"], settings["max_side"])
            inputs.append((pixel_values.to(self.device, dtype), pixel_mask.to(self.device)))
        forward = self.forward_seconds(lambda batch: detector.forward(*batch), inputs)
        params = {**settings, "half_precision": detector.half}
        items = self.items("detect_fp16" if half else "detect")
        seconds = self.clock(lambda: run_detect_shard(items, detector, params, self.args.batch_size,
                                                      self.max_pixels))
        note = "float16 needs CUDA: ran float32" if half and not detector.half else ""
        return Row("detect_fp16" if half else "detect", "image", len(items), load, seconds, forward, note)

    def detect_fp16(self):
        return self.detect(half=True)

    def load_captioner(self):
        from photoprivacy.caption.models import load_captioner

        kind = self.config["caption"]["model"]
        model_dir = self.model_dir(f"captioner_{kind}")
        captioner, load = self.loaded(lambda: load_captioner(model_dir, kind, device=self.device))
        return captioner, load

    def caption_forward(self, captioner, images, teacher_forced=True):
        """Seconds of the captioner's model calls (caption_pixels_with_word_maps', or caption_texts'
        without the teacher-forced pass) over ``images`` in batches."""
        from photoprivacy.caption import word_attention

        settings = self.config["caption"]

        def forward(pixel_values):
            states = word_attention.encode(captioner, pixel_values)
            sequences = word_attention.generate(captioner, states, settings["max_new_tokens"], settings["num_beams"])
            if teacher_forced:
                word_attention.teacher_forced_cross_attentions(captioner, states, sequences)

        inputs = [word_attention.preprocess(captioner, batch) for batch in self.batches(images)]
        return self.forward_seconds(forward, inputs)

    def caption(self):
        from photoprivacy.caption.stage import run_caption_shard

        captioner, load = self.load_captioner()
        forward = self.caption_forward(captioner, self.images)
        items = self.items("caption")
        seconds = self.clock(lambda: run_caption_shard(items, captioner, self.config["caption"],
                                                       self.args.batch_size, self.max_pixels))
        return Row("caption", "image", len(items), load, seconds, forward, self.config["caption"]["model"])

    def language(self):
        from photoprivacy.artifacts import write_json
        from photoprivacy.language.bert_attention import analyse_caption_bert, caption_words, load_bert
        from photoprivacy.language.stage import run_language_shard

        model_dir = self.model_dir("bert")
        (model, tokenizer), load = self.loaded(lambda: load_bert(model_dir, device=self.device))
        items = self.items("language", caption_json="captions/{id}.json")
        captions = [CAPTIONS[index % len(CAPTIONS)] for index in range(len(items))]
        for item, caption in zip(items, captions, strict=True):
            write_json(item["caption_json"], {"image_id": item["id"], "status": "ok", "reason": None,
                                              "caption": caption})
        encodings = [tokenizer(caption_words(caption), is_split_into_words=True, return_tensors="pt").to(self.device)
                     for caption in captions]
        forward = self.forward_seconds(lambda encoding: model(**encoding, output_attentions=True), encodings)
        bert = self.config["language"]["bert"]
        rule = {"index_base": bert["index_base"], "threshold": bert["threshold"]}

        def analyse(caption):  # as scripts/language.py
            return analyse_caption_bert(caption, model, tokenizer, rule)

        seconds = self.clock(lambda: run_language_shard(items, analyse, {"method": "bert_attention", **rule}))
        return Row("language", "caption", len(items), load, seconds, forward, "BERT, one caption per forward")

    def scene(self):
        from photoprivacy.models.store import model_summary, verify_manifest
        from photoprivacy.scene.classifier import load_scene_classifier
        from photoprivacy.scene.relevance import preprocess_scene, scene_preprocessing
        from photoprivacy.scene.stage import run_scene_shard

        model_dir = self.model_dir("scene_classifier")
        (model, labels), load = self.loaded(lambda: load_scene_classifier(model_dir, device=self.device))
        model_info = model_summary(verify_manifest(model_dir))
        batch_size = self.args.batch_size
        # As scripts/scene.py; "model" is config.yaml's default.
        preprocessing = scene_preprocessing(model, self.config["scene"]["preprocessing"])
        inputs = [torch.cat([preprocess_scene(image, preprocessing) for image in batch]).to(self.device)
                  for batch in self.batches(self.images, batch_size)]
        forward = self.forward_seconds(model, inputs)
        items = self.items("scene")
        params = {key: self.config["scene"][key] for key in ("top_k", "relevance")}
        seconds = self.clock(lambda: run_scene_shard(items, model, labels, params, model_info, self.max_pixels,
                                                     batch_size, preprocessing=preprocessing))
        return Row("scene", "image", len(items), load, seconds, forward,
                   f"batch {batch_size}; the stage adds a backward pass (relevance)")

    def fakes(self):
        from photoprivacy.artifacts import write_json
        from photoprivacy.faces.generators import DiffusionFaceGenerator
        from photoprivacy.faces.stage import run_fakes_shard

        model_dir = self.model_dir("face_generator")
        batch_size = self.args.batch_size
        generator, load = self.loaded(lambda: DiffusionFaceGenerator(model_dir, self.args.steps, self.device,
                                                                     batch_size))
        items = self.items("fakes", faces_json="faces/{id}.json")
        n_faces = min(self.args.faces, len(items))
        for index, item in enumerate(items):
            faces = [{"face": 0, "person": 0, "box_xyxy": [0, 0, 64, 64], "score": 0.9}] if index < n_faces else []
            write_json(item["faces_json"], {"faces": faces})
        # The bare pass samples faces in the stage's batches (one face per image here).
        unet, scheduler = generator.unet, generator.scheduler
        scheduler.set_timesteps(self.args.steps)
        timesteps = scheduler.timesteps.to(self.device)
        noise = [torch.randn(len(batch), unet.config.in_channels, generator.size, generator.size, device=self.device)
                 for batch in self.batches(range(n_faces), batch_size)]
        forward = self.forward_seconds(lambda sample: [unet(sample, t) for t in timesteps], noise)
        seconds = self.clock(lambda: run_fakes_shard(items, lambda: generator, self.config["seed"]))
        return Row("fakes", "face", n_faces, load, seconds, forward,
                   f"batch {batch_size}, {self.args.steps} DDIM steps, {len(items) - n_faces} images without a face")

    def evaluate(self):
        from photoprivacy.caption.word_attention import caption_texts
        from photoprivacy.detection.detr import DetrDetector, preprocess
        from photoprivacy.evaluate.identity import FaceRecogniser
        from photoprivacy.evaluate.stage import Evaluators, run_evaluate_shard
        from photoprivacy.faces.detectors import CenterFaceDetector

        detect, caption, settings = self.config["detect"], self.config["caption"], self.config["evaluate"]
        half = self.config["execution"]["half_precision"]
        detr_dir = self.model_dir("detr")

        def load():  # as scripts/evaluate.py
            captioner, _ = self.load_captioner()
            return Evaluators(
                faces=CenterFaceDetector(settings["face_threshold"], settings["face_max_side"]),
                identity=FaceRecogniser(),
                persons=DetrDetector(detr_dir, detect["threshold"], detect["short_side"], detect["max_side"],
                                     self.device, half),
                caption=functools.partial(caption_texts, captioner, max_new_tokens=caption["max_new_tokens"],
                                          num_beams=caption["num_beams"]),
            )

        evaluators, load_seconds = self.loaded(load)
        items = self.items("evaluate", png="final/{id}.png", decisions="final/{id}.decisions.json",
                           detect_json="final/{id}.detect.json", caption_json="final/{id}.caption.json",
                           language_json="final/{id}.language.json")
        protected = [protected_inputs(item, image) for item, image in zip(items, self.images, strict=True)]
        detector, captioner = evaluators.persons, evaluators.caption.args[0]
        dtype = torch.float16 if detector.half else torch.float32
        inputs = []
        for batch in self.batches(protected):
            pixel_values, pixel_mask = preprocess(batch, detect["short_side"], detect["max_side"])
            inputs.append((pixel_values.to(self.device, dtype), pixel_mask.to(self.device)))
        forward = self.forward_seconds(lambda batch: detector.forward(*batch), inputs)
        forward += self.caption_forward(captioner, protected, teacher_forced=False)
        params = {"variant": "base", "scenario": "scenario2", "evaluate": settings}
        seconds = self.clock(lambda: run_evaluate_shard(items, params, evaluators, self.args.batch_size,
                                                        self.max_pixels))
        return Row("evaluate", "image", len(items), load_seconds, seconds, forward,
                   "DETR + captioner; CenterFace, dlib, metrics on the CPU")


def protected_inputs(item, image):
    """A protected copy of ``image`` (its central box flattened to its mean colour) and the
    artifacts evaluation reads with it; returns the protected pixels."""
    from photoprivacy.artifacts import write_json

    height, width = image.shape[:2]
    box = [width // 4, height // 4, 3 * width // 4, 3 * height // 4]
    protected = image.copy()
    region = protected[box[1] : box[3], box[0] : box[2]]
    region[:] = region.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    Path(item["png"]).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(protected).save(item["png"])
    write_json(item["decisions"], {"status": "ok", "reason": None,
                                   "regions": [{"kind": "person", "region": box, "method": "mosaic"}]})
    write_json(item["detect_json"], {"detections": [{"label": "person", "box_xyxy": box}]})
    write_json(item["caption_json"], {"caption": CAPTIONS[0]})
    write_json(item["language_json"], {"w1": ["riding"], "w2": ["beach"]})
    return protected


def device_label(device):
    """The device, its name and, on CUDA, whether TF32 convolutions are on."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    tf32 = f", TF32 convolutions {torch.backends.cudnn.allow_tf32}" if device.type == "cuda" else ""
    return f"{device} ({name}{tf32})"


def print_table(args, bench, rows):
    print(f"{len(bench.photos)} photos ({photo_source(args)}), random {args.size} models, batch {args.batch_size}, "
          f"{device_label(bench.device)}, {torch.get_num_threads()} torch threads")
    header = ("stage", "unit", "n", "load s", "stage/s", "forward/s", "stage s/unit", "outside fwd s/unit", "note")
    print(f"{header[0]:<12}{header[1]:<8}{header[2]:>5}{header[3]:>8}{header[4]:>10}{header[5]:>11}"
          f"{header[6]:>14}{header[7]:>20}  {header[8]}")
    for row in rows:
        print(f"{row.stage:<12}{row.unit:<8}{row.count:>5}{row.load_seconds:>8.2f}"
              f"{row.count / row.stage_seconds:>10.2f}{row.count / row.forward_seconds:>11.2f}"
              f"{row.stage_seconds / row.count:>14.4f}{(row.stage_seconds - row.forward_seconds) / row.count:>20.4f}"
              f"  {row.note}")


def photo_source(args):
    return "the shared ones, then generated 640x480" if args.shared else "generated 640x480"


def run_stages(bench, stages):
    rows = []
    for stage in (s for s in STAGES if s in stages):
        rows.append(getattr(bench, stage)())
        gc.collect()  # the stage's models go before the next one loads
        if bench.device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def workflow_bare_stages(targets):
    """The stages timed bare next to a call on ``targets`` (None: rule protect, scenarios 1 and 2)."""
    if targets is None:
        return ["detect", "caption", "language", "scene", "fakes"]
    return [stage for stage in STAGES
            if stage in targets or (stage == "evaluate" and any(t.startswith("evaluate_") for t in targets))]


def share_models(source, workdir):
    """Point ``workdir``'s model folder at ``source``'s, whose models are built."""
    models_dir = Path(yaml.safe_load((workdir / "config.yaml").read_text())["models"]["dir"])
    if models_dir.is_absolute():
        return
    (workdir / models_dir).parent.mkdir(parents=True, exist_ok=True)
    (workdir / models_dir).symlink_to(source / models_dir, target_is_directory=True)


def main_workflow(args):
    """--workflow / --fixed-cost: one timed Snakemake call (see the module's docstring). A call that
    fails leaves its scratch project for a look at its logs."""
    from photoprivacy.devices import pick_device

    def new_project(images, photos=None):
        return workflow_call.project(args.repo, images, args.device, args.size, args.batch_size, args.config, photos)

    args.shared = args.shared and args.workflow  # --fixed-cost alone: one generated photo
    workdir = new_project(args.images, shared_photos() if args.shared else None) if args.workflow else new_project(1)
    n_photos = len(list((workdir / "photos").iterdir()))
    projects = [workdir]
    try:
        bare_rows = {}
        if args.bare:
            bench = Bench(args, workdir)
            bench.out = workdir / "bare_results"  # apart from the workflow's results
            rows = run_stages(bench, args.stages or workflow_bare_stages(args.targets))
            print("in this process (per-stage mode), on the same photos:")
            print_table(args, bench, rows)
            bare_rows = {row.stage: row for row in rows}
            del bench
            gc.collect()
        call = single = None
        if args.workflow:
            call = workflow_call.timed_call(workdir, args.repo, n_photos, args.targets, args.cores)
        if args.fixed_cost:
            single_dir = workdir
            if args.workflow:
                single_dir = new_project(1)
                projects.append(single_dir)
                share_models(workdir, single_dir)
            single = workflow_call.timed_call(single_dir, args.repo, 1, args.targets, args.cores)
    except BaseException:
        print(f"stopped; scratch projects kept: {' '.join(map(str, projects))}", file=sys.stderr)
        raise

    print(f"checkout {args.repo} ({workflow_call.commit_of(args.repo)}), library "
          f"{workflow_call.library_file(args.repo, workdir)}")
    print(f"photos ({photo_source(args)}), random {args.size} models, batch {args.batch_size}, "
          f"{device_label(pick_device(args.device))}, config changes: {' '.join(args.config) or 'none'}")
    if call:
        workflow_call.print_call(call, bare_rows, single)
        workflow_call.print_ratio(call, bare_rows)
    if single:
        workflow_call.print_call(single, None if call else bare_rows)
        if not call:
            workflow_call.print_ratio(single, bare_rows)
        workflow_call.print_jobs(single)
    for project in projects:
        if args.keep:
            print(f"project kept in {project}")
        else:
            shutil.rmtree(project)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu or auto")
    parser.add_argument("--size", choices=["tiny", "full"], default="full", help="random model size")
    parser.add_argument("--images", type=int, default=256, help="generated 640x480 photos")
    parser.add_argument("--shared", action="store_true",
                        help="the shared photos (../shared/data/photos) before the generated ones")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="execution.batch_size, which detect, caption and evaluate batch by "
                        "(16: profiles/slurm/gpu.yaml)")
    parser.add_argument("--stages", nargs="+", choices=STAGES,
                        help="stages to time, in order (default: all; with --workflow --bare: those of the targets)")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of the face generator")
    parser.add_argument("--faces", type=int, default=16, help="faces generated by the fakes stage (one per image)")
    parser.add_argument("--workflow", action="store_true",
                        help="time one Snakemake call over the photos instead (offline profile, models built first)")
    parser.add_argument("--fixed-cost", action="store_true",
                        help="time the Snakemake call on 1 photo and list each model job's seconds (its fixed cost)")
    parser.add_argument("--bare", action="store_true",
                        help="with --workflow or --fixed-cost: first time the stages in this process on its photos")
    parser.add_argument("--targets", nargs="+", metavar="STAGE",
                        help="only the jobs of these stages, e.g. detect caption scene (default: rule protect)")
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config changes of the call, e.g. language.method=bert_attention execution.shards=8")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="checkout whose Snakefile, profiles/offline, config.yaml and src/ the call uses")
    parser.add_argument("--cores", type=int, help="Snakemake's --cores (default: the offline profile's)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects of the calls")
    args = parser.parse_args()
    args.repo = args.repo.resolve()
    if args.workflow or args.fixed_cost:
        main_workflow(args)
        return

    workdir = scratch_project(shared_photos() if args.shared else None, generated=args.images)
    bench = Bench(args, workdir)
    rows = run_stages(bench, args.stages or STAGES)
    print_table(args, bench, rows)
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
