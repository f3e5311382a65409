"""Relations stage: which detected objects belong to which person, and why."""
