"""Video in, protected video out: media input and output, and person tracks across frames."""
