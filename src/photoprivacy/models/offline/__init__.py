"""Random models of the real classes, for the offline profile, tests and benchmarks.

One module per model family (``models.families`` names each builder). A builder
``(model_dir, size, seed)`` writes what the family's loader reads, in the
layout of the pretrained model: ``tiny`` for tests and offline runs, ``full``
(the pretrained architecture with random weights) for timing. The stage modules
only load and run models; nothing here is imported at inference.
"""
