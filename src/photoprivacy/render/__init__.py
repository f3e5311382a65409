"""Rendering protected images: region obfuscation and the scenario renderers."""
