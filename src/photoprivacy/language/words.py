"""The words of a caption analysis as plain strings."""


def word_texts(words):
    """Language artifacts list words as dicts with "word" (or as plain strings)."""
    return [w["word"] if isinstance(w, dict) else str(w) for w in words]
