"""Detection stage: people and objects, with DETR's per-query attention maps."""
