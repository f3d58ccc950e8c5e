"""The Swarm stack file (``deploy/stack.yml``): what ``workers compose`` writes.

A worker's service from its spec, its labels and stack variables, the fast splice of changed
services and the round-trip fallback, overlays. ``yaml/`` holds the YAML scanning, emitting
and editing they share.
"""
