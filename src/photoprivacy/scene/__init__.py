"""Scene stage: a ViT scene classifier and its relevance map."""
