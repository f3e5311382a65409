"""Where models run: ``auto`` picks CUDA when present."""

import torch


def pick_device(device="auto"):
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
