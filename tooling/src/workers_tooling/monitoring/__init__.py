"""Monitoring: the Prometheus and exporter services of the stack, their images, probing each
replica (``workers monitoring-status``), health read from Prometheus, ``prometheus-url`` and
the local monitoring processes (``workers monitoring start|stop``).
"""
