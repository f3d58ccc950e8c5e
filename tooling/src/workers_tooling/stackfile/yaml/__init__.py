"""YAML pieces of the stack-file writer: key positions, node building, emitting, editing.
"""
