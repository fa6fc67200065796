"""Running apps on a Docker Swarm cluster.

Modules, from the bottom up (each imports only the ones above it):

``names``          labels and object names (pure)
``engine_calls``   the boundary with the docker SDK: its errors become lain errors
``sizing``         instances, CPU and memory, and which value a deploy keeps (pure)
``views``          typed views of the services, tasks and nodes the engine returns
``routing``        what the router serves of an app: labels, network, URLs (pure)
``discovery``      which networks a proc joins and which names it answers to (pure)
``spec``           one proc's Swarm service spec, and questions about specs (pure)
``desired``        everything one release of an app should have on the cluster (pure)
``plan``           what a deploy would change, desired against live (pure)
``identity``       who is acting (user@host), and this process's identity for locks
``session``        :class:`Cluster`: the engine, registry and login of one cluster
``lock_record``    what a deploy lock's Swarm config says; reading and marking it
``lock``           one operation at a time per app: take, renew, release, break
``releases``       numbered release records kept in the cluster as Swarm configs
``swarm``          reading and changing services, tasks, networks, volumes, nodes
``task_logs``      reading one task's log, with a timeout on silence
``wait``           waiting until a rollout converges, and why it did not
``source``         what a deploy runs: version, pinned image, lain.yaml; resource instances
``rollout``        putting a recorded release in place, undoing it on failure, settling it
``links``          link networks: the clients a provider serves, joining a new client
``secret_store``   secret files as versioned Swarm secrets, and the versions a deploy mounts
``secret_reader``  reading secret values through a one-off task, without any log
``resources``      recording the version of a resource app
``claims``         the mountpoints and stream ports other apps hold; refusing to take one
``cert_check``     checking a TLS certificate and its key before they are stored (pure)
``cert_store``     the router's TLS certificates, kept as Swarm secrets
``router``         the router's image and service, and its status
``certs``          add, list and remove the router's TLS certificates
``stream_ports``   having the router publish an app's stream ports after a change
``deploy``         deploy and plan
``scale``          scale and restart
``history``        the release history, and rollback
``oneoff``         a command run once in a one-off task of a proc's release
``undeploy``       undeploy and purge
``secrets``        add, list, read and remove secret files
``status``         what an app runs, instance by instance
``apps``           the apps on a cluster at a glance: release, procs, health, URLs
``logs``           what an app prints
``attach``         the streams of a command in a container
``run``            one proc of a built release in a local container
``exec``           a command in a running instance
``local``          the local engine as a one-node swarm plus a registry
``nodes``          the swarm's nodes: list, add, label, drain, remove; the cluster's status
"""
