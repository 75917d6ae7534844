"""Model backends: one file per backend, the protocol in ``base.py``."""
