"""Scenario 2, step one: how important is each detected person."""
