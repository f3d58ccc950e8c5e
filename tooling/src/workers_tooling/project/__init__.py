"""The repository's workers as files: finding the repository, discovering ``workers/*/worker.json``,
the worker model (:class:`ServiceSpec`), topics, clashes between workers, the JSON Schema
(``workers list``, ``discover``, ``schema``).
"""
