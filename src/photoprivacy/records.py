"""The frame every per-image JSON record shares: schema version, image id, status and reason first,
the stage's own fields, provenance last (workflow/schemas/*.schema.json)."""


def image_record(schema_version, image_id, status, reason, provenance, **fields):
    """A record of one image; ``status`` is "ok" or "rejected", ``reason`` why (or a note), else None."""
    return {"schema_version": schema_version, "image_id": image_id, "status": status, "reason": reason,
            **fields, "provenance": provenance}


def after(upstream, provenance, schema_version, **fields):
    """A record that carries on an upstream record's image id, status and reason."""
    return image_record(schema_version, upstream["image_id"], upstream["status"], upstream["reason"], provenance,
                        **fields)
