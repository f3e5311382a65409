"""Where a model stage's job time goes: decode, preprocess, forward, postprocess, write.

    .venv/bin/python benchmarks/stage_overhead.py [--images 32] [--size tiny] [--batch-size 4]
        [--stages detect caption language scene fakes evaluate] [--steps 50] [--threads 2]
        [--repeat 3] [--no-model-batches]

Runs each model stage's shard function (what scripts/<stage>.py calls) in
this process, with random models of the real classes, over the shared photos
at 1x, 2x and 3x (bicubic PNGs, as tests/test_privacy_workflow.py builds
them) plus generated 640x480 JPEGs, --images in all. The stages run in
workflow order, each on the artifacts of the ones before (language reads the
captions, fakes gets 0-3 faces per image, evaluate a protected copy with one
flattened region per photo); each is warmed up on one image first, then
run --repeat times, and the fastest run is shown (other processes on the
machine slow some runs down). Scene and fakes get --batch-size as their
``batch_size`` (images per relevance pass, faces per generator call across
images); --no-model-batches runs them one image, or one image's faces, per call.

Sections are timed by wrapping the library functions they call; a section's
time excludes the sections called inside it, so `postprocess` is what
remains of a model call (detector.run, caption_pixels_with_word_maps, ...) after
its preprocess and forward, and evaluate's per-image metrics (CenterFace,
dlib, SSIM) count there too. Decode includes reading input JSONs. Sections
that run in background threads overlap the main thread, so they can add up
to more than the wall time: `outside fwd` (wall minus forward, per image) is
the time the model waits.
"""

import argparse
import contextlib
import functools
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import yaml
from common import REPO, scratch_project
from PIL import Image

sys.path.insert(0, str(REPO / "tests"))
from test_privacy_workflow import scaled_photos_and_boxes  # noqa: E402  (one definition of the scaled photos)

SECTIONS = ("decode", "preprocess", "forward", "postprocess", "write")
STAGES = ("detect", "caption", "language", "scene", "fakes", "evaluate")
FAMILIES = {"detect": "detr", "caption": "captioner_blip", "language": "bert", "scene": "scene_classifier",
            "fakes": "face_generator"}


class SectionClock:
    """Exclusive seconds per section, summed over threads: a section nested in another is
    subtracted from its parent, so nothing is counted twice."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self._lock = threading.Lock()
        self._local = threading.local()

    def wrap(self, section, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            stack = self._local.__dict__.setdefault("stack", [])
            frame = [time.perf_counter(), 0.0]  # start, time in nested sections
            stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                stack.pop()
                elapsed = time.perf_counter() - frame[0]
                if stack:
                    stack[-1][1] += elapsed
                with self._lock:
                    self.seconds[section] += elapsed - frame[1]

        return timed

    @contextlib.contextmanager
    def patched(self, targets):
        """targets: (section, owner, attribute). A module-level function is also replaced where
        other photoprivacy modules imported it by name; missing attributes are skipped."""
        undo = []
        try:
            for section, owner, attribute in targets:
                original = getattr(owner, attribute, None)
                if original is None:
                    continue
                wrapped = self.wrap(section, original)
                holders = [owner]
                if isinstance(owner, type(sys)):
                    holders += [m for name, m in list(sys.modules.items()) if name.startswith("photoprivacy")
                                and m is not owner and getattr(m, attribute, None) is original]
                for holder in holders:
                    own = attribute in vars(holder)
                    undo.append((holder, attribute, vars(holder).get(attribute), own))
                    setattr(holder, attribute, wrapped)
            yield self
        finally:
            for holder, attribute, original, own in reversed(undo):
                if own:
                    setattr(holder, attribute, original)
                else:
                    delattr(holder, attribute)


def build_photos(count):
    """The scaled shared photos plus generated 640x480 JPEGs: ``count`` files in all, sorted."""
    workdir = scratch_project(generated=0)
    photos = workdir / "photos"
    scaled_photos_and_boxes(photos)
    scaled = sorted(photos.iterdir())[:count]
    for extra in sorted(photos.iterdir())[count:]:
        extra.unlink()
    rng = np.random.default_rng(0)
    for index in range(count - len(scaled)):
        pixels = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"generated_{index:05d}.jpg", quality=90)
    return workdir, sorted(photos.iterdir())


def items_for(stage, photos, out, previous=None):
    items = []
    for photo in photos:
        image_id = photo.stem
        item = {"id": image_id, "path": str(photo), "relpath": photo.name, "source": photo.name,
                "json": str(out / stage / f"{image_id}.json"), "npz": str(out / stage / f"{image_id}.npz")}
        for name, pattern in (previous or {}).items():
            item[name] = str(out / pattern.format(id=image_id))
        items.append(item)
    return items


def faces_inputs(photos, out):
    """0 to 3 faces per image (image i gets i % 4), as the faces stage would write them."""
    from photoprivacy.artifacts import write_json

    for index, photo in enumerate(photos):
        faces = [{"face": k, "person": 0, "box_xyxy": [0, 0, 8, 8], "score": 0.9} for k in range(index % 4)]
        write_json(out / "faces" / f"{photo.stem}.json", {"faces": faces})


def protected_inputs(photos, out, max_pixels):
    """A protected copy per photo (its central box flattened to its mean colour) and its decision log."""
    from photoprivacy.artifacts import write_json
    from photoprivacy.images import load_rgb

    for photo in photos:
        image = load_rgb(photo, max_pixels)
        height, width = image.shape[:2]
        box = [width // 4, height // 4, 3 * width // 4, 3 * height // 4]
        protected = image.copy()
        region = protected[box[1] : box[3], box[0] : box[2]]
        region[:] = region.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        Image.fromarray(protected).save(out / "final" / f"{photo.stem}.png")
        write_json(out / "final" / f"{photo.stem}.decisions.json", {"status": "ok", "reason": None, "regions": [
            {"kind": "person", "region": box, "method": "mosaic"}]})


class Bench:
    """Models, parameters and the per-stage calls with the functions each one's sections wrap."""

    def __init__(self, models, config, batch_size, steps, model_batches=True):
        from photoprivacy.caption.models import load_captioner
        from photoprivacy.detection.detr import DetrDetector
        from photoprivacy.faces.generators import DiffusionFaceGenerator
        from photoprivacy.language.bert_attention import load_bert
        from photoprivacy.models.store import model_summary, verify_manifest
        from photoprivacy.scene.classifier import load_scene_classifier

        self.config, self.batch_size, self.model_batches = config, batch_size, model_batches
        self.max_pixels = config["execution"]["max_image_pixels"]
        detect = config["detect"]
        self.detector = DetrDetector(models["detect"], detect["threshold"], detect["short_side"], detect["max_side"],
                                     device="cpu", half=False)
        self.captioner = load_captioner(models["caption"], "blip", device="cpu")
        self.bert, self.tokenizer = load_bert(models["language"])
        self.scene_model, self.scene_labels = load_scene_classifier(models["scene"], device="cpu")
        self.scene_info = model_summary(verify_manifest(models["scene"]))
        # Faces per generator call across images: --batch-size, or with --no-model-batches one image's faces.
        self.face_generator = DiffusionFaceGenerator(models["fakes"], steps, "cpu",
                                                     batch_size if model_batches else None)

    def run(self, stage, items):
        return getattr(self, stage)(items)

    def targets(self, stage):
        from photoprivacy import artifacts, images
        from photoprivacy.caption import word_attention
        from photoprivacy.detection import detr
        from photoprivacy.evaluate import stage as evaluate_stage
        from photoprivacy.language import bert_attention
        from photoprivacy.scene import classifier, relevance

        write = [("write", artifacts, "write_json"), ("write", artifacts, "write_npz")]
        decode = [("decode", images, "load_rgb"), ("decode", artifacts, "read_json")]
        # The stages prepare batches in prefetch workers (prepare), then run the model on them (run, or
        # caption_pixels_with_word_maps); evaluation calls detect and caption_texts, which do both.
        detector = [("postprocess", detr.DetrDetector, name) for name in ("detect", "run")] + [
            ("preprocess", detr.DetrDetector, "prepare"), ("preprocess", detr, "preprocess"),
            ("forward", detr.DetrDetector, "forward")]
        captioner = [("preprocess", word_attention, name) for name in ("prepare", "preprocess")] + [
            ("forward", word_attention, name) for name in ("encode", "generate", "teacher_forced_cross_attentions")]
        generator = type(self.face_generator)
        return decode + write + {
            "detect": detector,
            "caption": [("postprocess", word_attention, "caption_pixels_with_word_maps")] + captioner,
            "language": [("postprocess", bert_attention, "analyse_caption_bert"),
                         ("preprocess", type(self.tokenizer), "__call__"), ("forward", self.bert, "forward")],
            "scene": [("preprocess", relevance, "preprocess_scene"), ("forward", relevance, "relevance_grid"),
                      ("forward", relevance, "relevance_grids"), ("postprocess", classifier, "top_predictions")],
            "fakes": [("postprocess", generator, name) for name in ("generate", "generate_many")] + [
                ("forward", type(self.face_generator.unet), "__call__")],
            "evaluate": detector + [("postprocess", word_attention, "caption_texts")] + captioner + [
                ("postprocess", evaluate_stage, "measure")],
        }[stage]

    def detect(self, items):
        from photoprivacy.detection.stage import run_detect_shard

        run_detect_shard(items, self.detector, self.config["detect"], self.batch_size, self.max_pixels)

    def caption(self, items):
        from photoprivacy.caption.stage import run_caption_shard

        run_caption_shard(items, self.captioner, self.config["caption"], self.batch_size, self.max_pixels)

    def language(self, items):
        from photoprivacy.language.bert_attention import analyse_caption_bert
        from photoprivacy.language.stage import run_language_shard

        bert = self.config["language"]["bert"]
        rule = {"index_base": bert["index_base"], "threshold": bert["threshold"]}

        def analyse(caption):  # as scripts/language.py
            return analyse_caption_bert(caption, self.bert, self.tokenizer, rule)

        run_language_shard(items, analyse, {"method": "bert_attention", **bert})

    def scene(self, items):
        import inspect

        from photoprivacy.scene.stage import run_scene_shard

        keywords = self.keyword_if_accepted(run_scene_shard, "batch_size")
        if not keywords and "batch_size" in inspect.signature(run_scene_shard).parameters:
            keywords["batch_size"] = 1  # --no-model-batches: one image per relevance pass
        if "preprocessing" in inspect.signature(run_scene_shard).parameters:  # as scripts/scene.py
            from photoprivacy.scene.relevance import scene_preprocessing

            keywords["preprocessing"] = scene_preprocessing(self.scene_model, self.config["scene"]["preprocessing"])
        run_scene_shard(items, self.scene_model, self.scene_labels, self.config["scene"], self.scene_info,
                        self.max_pixels, **keywords)

    def fakes(self, items):
        from photoprivacy.faces.stage import run_fakes_shard

        run_fakes_shard(items, lambda: self.face_generator, 0)

    def evaluate(self, items):
        from photoprivacy.caption import word_attention
        from photoprivacy.evaluate.identity import FaceRecogniser
        from photoprivacy.evaluate.stage import Evaluators, run_evaluate_shard
        from photoprivacy.faces.detectors import CenterFaceDetector

        settings = self.config["evaluate"]
        if not hasattr(self, "evaluators"):  # as scripts/evaluate.py, loaded once
            caption = self.config["caption"]

            def recaption(images):  # looked up per call, so the timing wrapper sees it
                return word_attention.caption_texts(self.captioner, images, caption["max_new_tokens"],
                                                    caption["num_beams"])

            self.evaluators = Evaluators(
                faces=CenterFaceDetector(settings["face_threshold"], settings["face_max_side"]),
                identity=FaceRecogniser(), persons=self.detector, caption=recaption)
        params = {"variant": "base", "scenario": "scenario2", "evaluate": settings}
        run_evaluate_shard(items, params, self.evaluators, self.batch_size, self.max_pixels)

    def keyword_if_accepted(self, function, name):
        """``batch_size`` for shard functions that take it (so this script also times older versions)."""
        import inspect

        accepted = self.model_batches and name in inspect.signature(function).parameters
        return {name: self.batch_size} if accepted else {}


def stage_items(stage, photos, out):
    previous = {
        "detect": {}, "caption": {}, "scene": {},
        "language": {"caption_json": "caption/{id}.json"},
        "fakes": {"faces_json": "faces/{id}.json"},
        "evaluate": {"detect_json": "detect/{id}.json", "caption_json": "caption/{id}.json",
                     "language_json": "language/{id}.json", "png": "final/{id}.png",
                     "decisions": "final/{id}.decisions.json"},
    }[stage]
    return items_for(stage, photos, out, previous)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="photos in all: the 12 scaled shared ones first")
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny", help="random model size")
    parser.add_argument("--batch-size", type=int, default=4, help="execution.batch_size")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="stages to time (language and evaluate need caption and detect: those run untimed)")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of the face generator")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, as the rules' threads")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the fastest is shown (others' load)")
    parser.add_argument("--no-model-batches", action="store_true",
                        help="scene and fakes without batch_size: one image / one image's faces per model call")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from photoprivacy.models.families import build_random

    workdir, photos = build_photos(args.images)
    out = workdir / "results"
    models = {}
    for stage, family in FAMILIES.items():
        models[stage] = workdir / "models" / f"{family}-{args.size}"
        build_random(family, models[stage], args.size, seed=0)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    bench = Bench(models, config, args.batch_size, args.steps, not args.no_model_batches)
    (out / "final").mkdir(parents=True)
    faces_inputs(photos, out)
    protected_inputs(photos, out, config["execution"]["max_image_pixels"])

    needed = set(args.stages)
    if "language" in needed or "evaluate" in needed:
        needed |= {"caption"}
    if "evaluate" in needed:
        needed |= {"detect", "language"}
    rows = []
    for stage in (s for s in STAGES if s in needed):
        items = stage_items(stage, photos, out)
        warm = stage_items(stage, photos[:1], Path(tempfile.mkdtemp(prefix="warm-", dir=workdir)))
        for item, source in zip(warm, items, strict=False):  # the warm-up reads the same inputs, writes elsewhere
            item.update({key: value for key, value in source.items() if key not in ("json", "npz")})
        bench.run(stage, warm)
        runs = []
        for _ in range(args.repeat if stage in args.stages else 1):
            clock = SectionClock()
            with clock.patched(bench.targets(stage)):
                began = time.perf_counter()
                bench.run(stage, items)
                runs.append((time.perf_counter() - began, dict(clock.seconds)))
        if stage in args.stages:
            rows.append((stage, *min(runs, key=lambda run: run[0])))

    pixels = [Image.open(p).size for p in photos]
    print(f"{len(photos)} images ({sum(w * h for w, h in pixels) / len(pixels) / 1e6:.2f} MP mean), random models "
          f"({args.size}), batch {args.batch_size}, {torch.get_num_threads()} torch threads, cpu; "
          f"face generator {args.steps} steps, {sum(i % 4 for i in range(len(photos)))} faces; "
          f"fastest of {args.repeat} runs; scene/fakes model batches: {not args.no_model_batches}")
    print("milliseconds per image (section times summed over threads):")
    print(f"{'stage':<10}" + "".join(f"{name:>12}" for name in (*SECTIONS, "wall", "outside fwd")))
    for stage, wall, seconds in rows:
        per_image = [1000 * seconds.get(name, 0.0) / len(photos) for name in SECTIONS]
        outside = 1000 * (wall - seconds.get("forward", 0.0)) / len(photos)
        print(f"{stage:<10}" + "".join(f"{value:>12.1f}" for value in (*per_image, 1000 * wall / len(photos),
                                                                           outside)))
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
