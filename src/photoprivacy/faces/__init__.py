"""Scenario 2, major persons: find their faces, generate replacements, blend them in."""
