"""A worker or the demo on this machine, without Docker (``workers run``, ``workers demo``).
"""
