"""Rule train_scene: fine-tune the scene classifier on the user's ImageFolder of scene classes."""

from pathlib import Path

import torch

from photoprivacy.devices import pick_device
from photoprivacy.joblog import log_to_file
from photoprivacy.models.store import read_manifest, write_manifest
from photoprivacy.scene.train import train_scene_classifier

log = log_to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
out_dir = Path(snakemake.output.manifest).parent
stats = train_scene_classifier(
    snakemake.input.images, Path(snakemake.input.base).parent, out_dir, steps=stage["steps"],
    batch_size=stage["batch_size"], lr=stage["learning_rate"], seed=stage["seed"],
    device=pick_device(stage["device"]), preprocessing=stage["preprocessing"],
    max_pixels=snakemake.params.max_image_pixels,
)
base = read_manifest(Path(snakemake.input.base).parent)  # the pretrained (or offline random) classifier
training = {key: stats[key] for key in ("steps", "final_loss", "class_names", "n_images", "n_rejected")}
write_manifest(out_dir, "trained", f"fine-tuned {base['id']}", None, extra={"training": training})
log.info("preprocessing '%s' (squash resize, no crop): %s", stage["preprocessing"], stats["preprocessing"])
log.info("trained on %d images of %d classes: final loss %.4f", stats["n_images"], len(stats["class_names"]),
         stats["final_loss"])
