"""Where models run: ``auto`` picks CUDA when present; how inputs get there."""

import torch


def pick_device(device):
    """``device`` (config.yaml: execution.device) as a ``torch.device``: auto, cpu, cuda or cuda:N."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pinned_for(tensor, device):
    """A CPU ``tensor`` bound for ``device``: in page-locked memory for CUDA, as it is otherwise.

    Pinning is a CPU copy, so a stage's prefetch worker does it; the copy to the GPU
    (``to_device``) then needs no staging buffer and does not hold up the model's thread.
    """
    return tensor.pin_memory() if device.type == "cuda" else tensor


def to_device(tensor, device, dtype=None):
    """A CPU ``tensor`` on ``device``: from pinned memory the copy is queued, not waited for.

    Only for host-to-device copies: kernels queued after it see the data, the host never reads it early.
    """
    return tensor.to(device, dtype, non_blocking=True)
