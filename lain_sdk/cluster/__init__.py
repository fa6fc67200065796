"""Running apps on a Docker Swarm cluster.

``desired``     pure: an app's lain.yaml, a release and the cluster's settings -> the network,
                services and volumes that should exist (and a plan of what would change)
``discovery``   which networks an app's services join, which names they answer to, and the
                check that the services an app uses exist
``resources``   resource instances ``resource.<res>.<client>``: rendered, deployed before clients
``swarm``       the backend: converge the engine to a desired state and wait until it is there
``releases``    numbered release records kept in the cluster as Swarm configs
``lock``        one deploy at a time per app, through a Swarm config whose creation is atomic
``operations``  deploy, scale, rollback, undeploy and the release history: what the CLI calls
``status``      what an app runs (``lain ps``) and what it prints (``lain logs``)
``secrets``     secret files as versioned Swarm secrets: store, list, read, mount, remove
``run``         ``lain run`` (a proc in a local container) and ``lain exec`` (into an instance)
``local``       ``lain cluster up``: the local engine as a one-node swarm plus a registry
"""
