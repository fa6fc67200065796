"""``lain cluster add|ls|show|use|rm|up|down|status``: the clusters lain deploys to."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.exit import ExitStatus
from lain_cli.options import pass_context, report, selected_cluster, timeout_option
from lain_cli.progress import show_events
from lain_cli.tables import table
from lain_sdk.cluster.local import cluster_down, cluster_up
from lain_sdk.cluster.nodes import ClusterStatus, cluster_status
from lain_sdk.cluster.router import ROUTER_TIMEOUT, router_up
from lain_sdk.cluster.session import Cluster
from lain_sdk.credentials import normalize_registry
from lain_sdk.engine import connect
from lain_sdk.settings import (
    LOCAL_CLUSTER,
    LOCAL_DEFAULT,
    LOCAL_DOMAIN,
    LOCAL_REGISTRY,
    ClusterSettings,
    RouterSettings,
    Settings,
)


@click.group()
def cluster() -> None:
    """Manage the clusters lain deploys to.

    Clusters live in the settings file ($LAIN_CONFIG, else $XDG_CONFIG_HOME/lain/config.yaml).
    A command acts on the cluster named by -c/--cluster, else LAIN_CLUSTER, else the one marked
    in use (`lain cluster use`), else the built-in `local` cluster: the local engine as a
    one-node swarm with a registry on 127.0.0.1:5000 (`lain cluster up` sets it up).
    """


@cluster.command("add")
@click.argument("name")
@click.option(
    "--docker-host",
    metavar="URL",
    help="Engine of a swarm manager: ssh://user@host, tcp://host:2376, unix:///path "
    "(default: the local engine).",
)
@click.option("--registry", metavar="HOST[:PORT]", required=True, help="The cluster's registry.")
@click.option(
    "--domain",
    "domains",
    metavar="DOMAIN",
    multiple=True,
    help="A domain of the cluster (repeat; the first is LAIN_DOMAIN). Default: lain.local.",
)
@click.option("--insecure-registry", is_flag=True, help="The registry speaks plain HTTP.")
@click.option(
    "--tls-cert-path",
    metavar="DIR",
    help="Directory with ca.pem, cert.pem and key.pem for a tcp:// engine with TLS.",
)
@click.option(
    "--publish-ports",
    is_flag=True,
    help="Publish web procs on ephemeral host ports (as the local cluster does).",
)
@click.option(
    "--router-base-image",
    metavar="IMAGE",
    default=RouterSettings().base_image,
    show_default=True,
    help="Image the router's image is built on (nginx and python3 are installed when missing).",
)
@click.option(
    "--router-constraint",
    metavar="EXPR",
    default=RouterSettings().constraint,
    show_default=True,
    help="Swarm placement constraint picking the router's nodes (managers).",
)
@click.option(
    "--router-engine-socket",
    metavar="PATH",
    default=RouterSettings().engine_socket,
    show_default=True,
    help="The engine's socket on the router's nodes (the router reads the swarm through it).",
)
@click.option("--router-http-port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--router-https-port", type=click.IntRange(1, 65535), default=443, show_default=True)
@click.option("--use", "use_it", is_flag=True, help="Also mark it as the cluster in use.")
@pass_context
def add(
    obj: Context,
    name: str,
    docker_host: str | None,
    registry: str,
    domains: tuple[str, ...],
    insecure_registry: bool,
    tls_cert_path: str | None,
    publish_ports: bool,
    router_base_image: str,
    router_constraint: str,
    router_engine_socket: str,
    router_http_port: int,
    router_https_port: int,
    use_it: bool,
) -> None:
    """Add a cluster (or replace the one called NAME).

    \b
    Examples:
      lain cluster add prod --docker-host ssh://deploy@manager1 --registry registry.example.com \\
          --domain example.com
      lain cluster add lab --docker-host tcp://10.0.0.5:2376 --tls-cert-path ~/.lab-certs \\
          --registry 10.0.0.5:5000 --insecure-registry
    """
    settings = Settings.load()
    entry = ClusterSettings(
        name=name,
        docker_host=docker_host or None,
        registry=normalize_registry(registry),
        domains=tuple(domains) or (LOCAL_DOMAIN,),
        insecure_registry=insecure_registry,
        tls_cert_path=tls_cert_path,
        publish_ports=publish_ports,
        router=RouterSettings(
            base_image=router_base_image,
            http_port=router_http_port,
            https_port=router_https_port,
            constraint=router_constraint,
            engine_socket=router_engine_socket,
        ),
    )
    settings.add(entry)
    if use_it:
        settings.use(name)
    settings.save()
    obj.emit(
        {**entry.to_dict(), "current": settings.current == name, "settings": str(settings.path)},
        f"added cluster {name}" + (" (in use)" if use_it else "") + f" to {settings.path}",
    )


@cluster.command("ls")
@pass_context
def ls(obj: Context) -> None:
    """List the clusters; * marks the one commands act on."""
    settings = Settings.load()
    chosen = settings.selected_name(obj.cluster)
    rows = []
    data = []
    for c in settings.all():
        data.append({**c.to_dict(), "selected": c.name == chosen})
        rows.append(
            (
                "*" if c.name == chosen else " ",
                c.name,
                c.docker_host or "(local engine)",
                c.registry,
                ",".join(c.domains),
            )
        )
    obj.emit(
        {"clusters": data},
        lambda: table([(" ", "NAME", "DOCKER HOST", "REGISTRY", "DOMAINS"), *rows]),
    )


@cluster.command("show")
@click.argument("name", required=False)
@pass_context
def show(obj: Context, name: str | None) -> None:
    """Show a cluster's settings (default: the selected cluster)."""
    settings = Settings.load()
    entry = settings.cluster(name or obj.cluster)
    data = {**entry.to_dict(), "selected": entry.name == settings.selected_name(obj.cluster)}
    lines = [
        f"name:              {entry.name}",
        f"docker host:       {entry.docker_host or '(local engine)'}",
        f"registry:          {entry.registry}",
        f"domains:           {', '.join(entry.domains)}",
        f"insecure registry: {'yes' if entry.insecure_registry else 'no'}",
        f"publish ports:     {'yes' if entry.publish_ports else 'no'}",
    ]
    if entry.tls_cert_path:
        lines.append(f"tls cert path:     {entry.tls_cert_path}")
    obj.emit(data, "\n".join(lines))


@cluster.command("use")
@click.argument("name")
@pass_context
def use(obj: Context, name: str) -> None:
    """Mark cluster NAME as the one commands act on."""
    settings = Settings.load()
    settings.use(name)
    settings.save()
    obj.emit({"current": name}, f"now using cluster {name}")


@cluster.command("rm")
@click.argument("name")
@pass_context
def rm(obj: Context, name: str) -> None:
    """Forget cluster NAME (nothing on the cluster itself changes)."""
    settings = Settings.load()
    settings.remove(name)
    settings.save()
    obj.emit({"removed": name}, f"removed cluster {name}")


@cluster.command("up")
@click.option(
    "--registry",
    metavar="HOST:PORT",
    default=None,
    help="Where the local registry listens (default: 127.0.0.1:5000).",
)
@click.option("--no-router", is_flag=True, help="Do not start the router (apps get no URLs then).")
@timeout_option(30, "Seconds to wait for the registry to answer.")
@pass_context
def up(obj: Context, registry: str | None, no_router: bool, timeout: float) -> None:
    """Set up the local cluster: this engine as a one-node swarm, a registry and the router.

    Safe to run again: what is there already is left as it is.  The registry is the registry:2
    image when the engine has it, else Debian's docker-registry program (files under
    $XDG_DATA_HOME/lain/registry).  The router serves apps at http://APP.lain.localhost/
    (port 80 of this machine); its base image comes from scripts/setup-engine where nothing
    can be pulled.
    """
    address = registry or LOCAL_REGISTRY
    result = show_events(obj, cluster_up(registry=address, timeout=timeout))
    if address != LOCAL_REGISTRY:
        # The local cluster with another registry address: remember it.
        settings = Settings.load()
        settings.add(LOCAL_DEFAULT._replace(registry=address))
        settings.save()
    data = {**result.to_dict(), "cluster": LOCAL_CLUSTER}
    if not no_router:
        session = Cluster.from_settings(LOCAL_CLUSTER)
        data["router"] = show_events(obj, router_up(session, timeout=ROUTER_TIMEOUT)).to_dict()
    report(
        obj,
        data,
        lambda: (
            f"local cluster ready: the local engine (swarm manager) and registry {result.registry}"
            + ("" if no_router else f", router on port {LOCAL_DEFAULT.router.http_port}")
        ),
    )


@cluster.command("down")
@pass_context
def down(obj: Context) -> None:
    """Stop the local registry `lain cluster up` started (the swarm and its apps stay)."""
    stopped = cluster_down(engine=connect())
    obj.emit(
        {"stopped": stopped}, "stopped " + ", ".join(stopped) if stopped else "nothing to stop"
    )


@cluster.command("status")
@pass_context
def status(obj: Context) -> None:
    """Show the selected cluster's health: nodes, managers and quorum, registry, router.

    Exits 0 when the managers have quorum and the registry answers, else 7 (CLUSTER_ERROR),
    after printing the status.
    """
    found = cluster_status(selected_cluster(obj))
    obj.emit(found.to_dict(), lambda: status_text(found))
    if not found.healthy:
        raise click.exceptions.Exit(ExitStatus.CLUSTER_ERROR)


def status_text(found: ClusterStatus) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in found.nodes.items()) or "none"
    reachable = sum(m.reachable for m in found.managers)
    quorum = "quorum" if found.quorum else "NO QUORUM: the swarm cannot change anything"
    registry = found.registry
    if not registry.reachable:
        said = f"unreachable ({registry.error})"
    else:
        said = "reachable" + (", asks for credentials" if registry.auth_required else "")
        said += f" ({registry.error})" if registry.error else ""
    router = found.router
    if router.running:
        up = sum(1 for t in router.tasks if t.state == "running" and t.desired_state == "running")
        router_said = f"running on {up} of {len(router.tasks)} node(s) ({router.image})"
    else:
        router_said = "not running (start it with `lain router up`)"
    lines = [
        f"cluster:  {found.cluster} ({'healthy' if found.healthy else 'NOT healthy'})",
        f"nodes:    {counts}",
        f"managers: {reachable} of {len(found.managers)} reachable, {quorum}",
    ]
    lines += [
        f"          {m.name} {m.address} {'leader' if m.leader else ''}".rstrip()
        + ("" if m.reachable else " UNREACHABLE")
        for m in found.managers
    ]
    lines += [f"registry: {registry.address} {said}", f"router:   {router_said}"]
    return "\n".join(lines)


COMMANDS = [cluster]
