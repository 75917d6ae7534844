"""Sandbox backends: one file per backend, the shared worker in ``_worker.py``."""
