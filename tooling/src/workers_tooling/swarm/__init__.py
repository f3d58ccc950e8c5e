"""Docker and Swarm operations: the Docker client (also over ssh), images, ``workers build``,
``deploy``, ``scale``, ``status``, ``logs``, the nodes and the engine database upgrade.
"""
