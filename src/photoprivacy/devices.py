"""Where models run: ``auto`` picks CUDA when present."""

import torch


def pick_device(device):
    """``device`` (config.yaml: execution.device) as a ``torch.device``: auto, cpu, cuda or cuda:N."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
