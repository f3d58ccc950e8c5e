"""The Copier template: its versions and tags, where it comes from and whether to trust it,
a worker's answers, scaffolding and updating workers (``workers new``, ``update``,
``check-update``, ``adopt``, ``template-tags``).
"""
