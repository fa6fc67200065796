"""lain's router: nginx configured from the swarm by a watcher.

This package runs inside the router's image, next to nginx, so it uses the standard library
only (the image has python3 and nothing else of lain).  :mod:`lain_sdk` imports it, never the
other way round: the SDK builds the image from these files, labels the services the router
reads, and asks the same model which routes an app would claim.

- :mod:`lain_router.labels`: the labels lain writes on the services the router serves.
- :mod:`lain_router.model`: the routes, upstreams and stream ports the swarm asks for (pure).
- :mod:`lain_router.render`: the nginx configuration of a model (pure).
- :mod:`lain_router.nginx`: checking, swapping in and reloading a configuration.
- :mod:`lain_router.engine`: a small Engine API client over the local socket.
- :mod:`lain_router.watch`: the loop that ties them together (``python3 -m lain_router``).
"""
