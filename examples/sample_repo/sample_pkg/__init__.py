"""A tiny package the example beads add functions to."""
