"""Fine-tune a scene classifier on a user's photos in ImageFolder layout.

``image_folder/<class name>/<photo>``: one sub-folder per class, classes in
sorted folder-name order (torchvision's ImageFolder convention). Photos are
decoded with the project's one loader; those it rejects are skipped and
counted. Training starts from a base classifier folder, replaces its head with
one for the new classes and runs AdamW on cross-entropy. The head is drawn
after ``torch.manual_seed(seed)`` and batches come from a generator of their
own seeded with ``seed``, so equal inputs give equal weights (on CPU).

Photos are fed with the base model's preprocessing (``scene_preprocessing``:
its own config, or the original's 224 / 0.5), and the saved config.json records
that preprocessing, so the scene stage later feeds the fine-tuned model as it
was trained.

Photos are decoded again for every batch rather than kept in memory: a few
thousand photos at 224x224 float32 would take gigabytes.
"""

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ConfigError, ImageRejected
from ..images import load_rgb
from .classifier import load_scene_classifier, read_classifier_config, save_scene_classifier
from .relevance import preprocess_scene, scene_preprocessing

CONFIG_KEY = "scene.train_images"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def find_class_folders(image_folder):
    """Sorted class sub-folders of ``image_folder``; at least two are needed to train."""
    root = Path(image_folder)
    if not root.is_dir():
        raise ConfigError(f"{CONFIG_KEY}: training image folder {root} does not exist")
    # Hidden folders (.ipynb_checkpoints, .thumbnails) are tool debris, not classes.
    folders = sorted(
        (path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")),
        key=lambda path: path.name,
    )
    if len(folders) < 2:
        raise ConfigError(
            f"{CONFIG_KEY}: {root} has {len(folders)} class folder(s); a classifier needs at least 2 "
            "(layout: <folder>/<class name>/<photo>)"
        )
    return folders


def list_samples(class_folders):
    """``(path, class index)`` for every file with an image suffix, in a stable order."""
    return [
        (path, index)
        for index, folder in enumerate(class_folders)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]


def split_decodable(samples, max_pixels):
    """Samples ``load_rgb`` accepts, and ``{"path", "reason"}`` for those it rejects."""
    usable, rejected = [], []
    for path, index in samples:
        try:
            load_rgb(path, max_pixels)
        except ImageRejected as error:
            rejected.append({"path": str(path), "reason": error.reason})
        else:
            usable.append((path, index))
    return usable, rejected


def count_per_class(samples, class_names):
    counts = dict.fromkeys(class_names, 0)
    for _path, index in samples:
        counts[class_names[index]] += 1
    return counts


def check_every_class_has_images(counts, image_folder):
    empty = [name for name, count in counts.items() if count == 0]
    if empty:
        raise ConfigError(
            f"{CONFIG_KEY}: class folder(s) {empty} in {image_folder} have no usable images "
            f"(suffixes {sorted(IMAGE_SUFFIXES)})"
        )


def shuffled_batches(n_samples, batch_size, steps, generator):
    """``steps`` lists of sample indices, taken in turn from fresh seeded permutations."""
    pending = []
    for _ in range(steps):
        while len(pending) < batch_size:
            pending.extend(torch.randperm(n_samples, generator=generator).tolist())
        batch, pending = pending[:batch_size], pending[batch_size:]
        yield batch


def load_batch(samples, indices, preprocessing, max_pixels):
    pixel_values = torch.cat(
        [preprocess_scene(load_rgb(samples[index][0], max_pixels), preprocessing) for index in indices]
    )
    targets = torch.tensor([samples[index][1] for index in indices], dtype=torch.long)
    return pixel_values, targets


def train_scene_classifier(
    image_folder, base_model_dir, out_dir, steps, *, batch_size, lr, seed, device, preprocessing, max_pixels
):
    """Fine-tune the classifier in ``base_model_dir`` on ``image_folder``; save it to ``out_dir``.

    The settings come from config.yaml: ``steps``, ``batch_size`` and ``lr`` (scene.train_steps,
    train_batch_size, train_learning_rate), ``seed``, ``device`` (a ``torch.device``, from
    execution.device), ``max_pixels`` (execution.max_image_pixels: larger photos are skipped as
    rejected) and ``preprocessing``, a ``scene_preprocessing`` mode ("model" or "original",
    scene.preprocessing) applied to the base model.

    Returns training stats: steps, final_loss, losses (one per step), n_images, n_rejected,
    rejected, class_names, images_per_class, preprocessing (the ``ScenePreprocessing`` used).
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps ({steps}) and batch_size ({batch_size}) must be at least 1")
    class_folders = find_class_folders(image_folder)
    class_names = [folder.name for folder in class_folders]
    samples, rejected = split_decodable(list_samples(class_folders), max_pixels)
    images_per_class = count_per_class(samples, class_names)
    check_every_class_has_images(images_per_class, image_folder)

    torch.manual_seed(seed)
    base_config = read_classifier_config(base_model_dir)
    model, _base_labels = load_scene_classifier(base_model_dir)
    feed = scene_preprocessing(model, preprocessing)
    model.reset_classifier(len(class_names))
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    losses = []
    for indices in shuffled_batches(len(samples), batch_size, steps, generator):
        pixel_values, targets = load_batch(samples, indices, feed, max_pixels)
        loss = F.cross_entropy(model(pixel_values.to(device)), targets.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))

    model.eval()
    save_scene_classifier(model, out_dir, base_config.architecture, class_names, base_config.model_args, feed)
    return {
        "steps": steps,
        "final_loss": losses[-1],
        "losses": losses,
        "n_images": len(samples),
        "n_rejected": len(rejected),
        "rejected": rejected,
        "class_names": class_names,
        "images_per_class": images_per_class,
        "preprocessing": feed,
    }
