"""The captioners caption.model names. Each is a ``CaptionerKind`` (caption.models), declared
here by path so that planning a run reads what it needs without importing torch."""

from ..registry import Registry

CAPTIONERS = Registry("captioner", "caption.model")
CAPTIONERS.declare("blip", "photoprivacy.caption.models:Blip", model="captioner_blip", device=True,
                   execution=("batch_size",))
CAPTIONERS.declare("vit_gpt2", "photoprivacy.caption.models:VitGpt2", model="captioner_vit_gpt2", device=True,
                   execution=("batch_size",))
