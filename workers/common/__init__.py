"""Modules shared by every worker.

This folder is copied into every worker image next to the worker's own folder and is
importable as ``common`` (the image sets ``PYTHONPATH=/app``), e.g.::

    from common.text import slugify

On the host, run a worker with ``PYTHONPATH=workers`` (from the repo root) to get the same.
Keep it small and dependency-free: anything here ships in every image, and a change here
rebuilds every worker image.
"""
