"""Caption stage: a caption per image and a spatial attention map per caption word."""
