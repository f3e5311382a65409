"""Model files as workflow inputs: fetched from the hub or built offline, with a manifest."""
