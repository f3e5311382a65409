"""Masks stage: one mask per scenario 1 component, kept apart so variants can switch them."""
