"""Seeds derived from the run's seed and what they are for, so no two things share a stream
and no shard or batch layout changes a result."""

import hashlib


def derived_seed(*parts):
    """A 63-bit seed from the parts (e.g. run seed, image id, face index)."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
