"""lain_sdk.images.push (push_app, push_images) on the fake engine and fake registries: what the
registry holds afterwards, layers it had skipped, credentials looked up only when asked for, and
how each failure is reported."""

from __future__ import annotations

import json

import pytest
import requests
import urllib3.exceptions
from fakes.base import engine_error
from fakes.engine import run_to_end
from fakes.images import FakeRegistry
from fakes.repos import SIMPLE_WITH_RELEASE

from lain_sdk.credentials import ENV_PASSWORD, ENV_USERNAME, Credentials
from lain_sdk.errors import (
    EngineError,
    LainTimeout,
    RegistryAuthError,
    RegistryError,
    VersionNotBuilt,
)
from lain_sdk.events import LayerProgress, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images import PushedImage, PushResult, build_app, push_app, push_images
from lain_sdk.images.push import credentials_for, push_error, registry_host
from lain_sdk.registry import RegistryClient

HOST = "registry.example.com"


@pytest.fixture
def app(make_app, fake_docker, engine, base_image):
    """A sample app, built: its release and meta images are on the engine."""
    app = make_app(SIMPLE_WITH_RELEASE)
    engine.on_command("echo built > built.txt", writes={"built.txt": "built\n"})
    run_to_end(build_app(app.path, engine=fake_docker))
    return app


def layer_events(events) -> list[LayerProgress]:
    return [e for e in events if isinstance(e, LayerProgress)]


def test_push_app_sends_release_and_meta(app, fake_docker, engine, registry):
    mv = app.meta_version
    result, events = run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    assert isinstance(result, PushResult)
    assert (result.registry, result.app, result.meta_version) == (HOST, "hello", mv)
    assert result.references == [f"{HOST}/hello:release-{mv}", f"{HOST}/hello:meta-{mv}"]
    assert registry.tags("hello") == [f"meta-{mv}", f"release-{mv}"]
    with RegistryClient(HOST) as client:  # what lain's registry client reads over HTTP
        assert client.app_versions("hello") == [mv]
        for image in result.images:
            assert image.digest == client.manifest_digest("hello", image.reference.split(":")[-1])
    release, meta = result.images
    release_layers = engine.image(f"hello:release-{mv}").layers
    assert (release.phase, release.uploaded_layers, release.skipped_layers) == (
        "release",
        len(release_layers),
        0,
    )
    assert (meta.phase, meta.uploaded_layers, meta.skipped_layers) == ("meta", 1, 0)
    # The engine now has the registry names too.
    assert engine.image(release.reference).id == engine.image(f"hello:release-{mv}").id
    # Progress: a start and an end per image, and each layer's states.
    marks = [
        (type(e).__name__, e.phase) for e in events if isinstance(e, (PhaseStarted, PhaseFinished))
    ]
    assert marks == [
        ("PhaseStarted", "push release"),
        ("PhaseFinished", "push release"),
        ("PhaseStarted", "push meta"),
        ("PhaseFinished", "push meta"),
    ]
    finished = [e for e in events if isinstance(e, PhaseFinished)]
    assert [(e.image, e.image_id, e.cached) for e in finished] == [
        (release.reference, release.digest, False),
        (meta.reference, meta.digest, False),
    ]
    bottom = release_layers[0].split(":")[1][:12]
    states = [e.status for e in layer_events(events) if e.layer == bottom]
    assert states[0] == "Preparing" and states[-1] == "Pushed" and "Pushing" in states
    ticks = [e for e in layer_events(events) if e.status == "Pushing"]
    assert all(e.total > 0 and 0 < e.current <= e.total for e in ticks)
    lines = [e.line for e in events if isinstance(e, PhaseLog)]
    assert f"The push refers to repository [{HOST}/hello]" in lines
    assert f"release-{mv}: digest: {release.digest} size: " in " ".join(lines)


def test_layers_the_registry_has_are_skipped(app, fake_docker, engine, registry):
    first, _ = run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    again, events = run_to_end(
        push_app(app.path, app.meta_version, registry=HOST, engine=fake_docker)
    )
    assert [i.digest for i in again.images] == [i.digest for i in first.images]
    assert all(i.uploaded_layers == 0 and i.skipped_layers >= 1 for i in again.images)
    statuses = {e.status for e in layer_events(events)}
    assert "Layer already exists" in statuses and "Pushed" not in statuses
    assert all(e.cached for e in events if isinstance(e, PhaseFinished))


def test_layers_another_repository_holds_are_mounted(app, fake_docker, engine, registry):
    run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    release = engine.image(f"hello:release-{app.meta_version}")
    engine.add_image("other:release-1", files={"/srv/other": "x"}, parent=release.id)
    pushed, events = run_to_end(
        push_images(
            fake_docker, [("release", "other:release-1", f"{HOST}/other:release-1")], registry=HOST
        )
    )
    mounted = [e for e in layer_events(events) if e.status == "Mounted from hello"]
    assert len(mounted) == len(release.layers)
    assert (pushed[0].skipped_layers, pushed[0].uploaded_layers) == (len(release.layers), 1)
    assert registry.tags("other") == ["release-1"]


def test_a_layer_that_fails_to_upload_fails_the_push_and_a_retry_finishes_it(
    app, fake_docker, engine, registry
):
    registry.fail_layer_push(1, "blob upload invalid")
    mv = app.meta_version
    with pytest.raises(RegistryError) as caught:
        run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    assert type(caught.value) is RegistryError
    assert str(caught.value) == (
        f"pushing {HOST}/hello:release-{mv} to registry {HOST} failed: blob upload invalid"
    )
    assert registry.tags("hello") == []  # no manifest: the image is not there
    layers = engine.image(f"hello:release-{mv}").layers
    assert registry.blobs["hello"] == {layers[0]}  # what made it before the failure

    result, _ = run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    assert (result.images[0].skipped_layers, result.images[0].uploaded_layers) == (
        1,
        len(layers) - 1,
    )
    assert registry.tags("hello") == [f"meta-{mv}", f"release-{mv}"]


def test_a_registry_that_wants_credentials(app, fake_docker, engine, registries):
    private = FakeRegistry("private.example.com:5000", username="ci", password="pa55-w0rd")
    registries[private.host] = engine.add_registry(private)

    def push(**options):
        return run_to_end(push_app(app.path, registry=private.host, engine=fake_docker, **options))

    with pytest.raises(RegistryAuthError) as caught:
        push()  # nothing stored for it
    assert str(caught.value) == (
        f"registry {private.host} refused {private.host}/hello:release-{app.meta_version}: "
        "no basic auth credentials; log in to it first"
    )
    assert caught.value.registry == private.host
    with pytest.raises(RegistryAuthError, match="unauthorized: authentication required"):
        push(credentials=Credentials("ci", "wrong"))
    result, events = push(credentials=Credentials("ci", "pa55-w0rd"))
    assert all(i.digest for i in result.images)
    assert private.tags("hello") == [f"meta-{app.meta_version}", f"release-{app.meta_version}"]
    shown = repr(result) + json.dumps([e.to_dict() for e in events]) + json.dumps(result.to_dict())
    assert "pa55-w0rd" not in shown
    assert [c.details["auth_config"] for c in engine.calls_to("push")][-2:] == [
        {"username": "ci", "password": "pa55-w0rd"}
    ] * 2


def test_stored_credentials_are_looked_up_only_when_the_registry_asks(
    app, fake_docker, engine, registry, registries, credential_lookups
):
    private = FakeRegistry("private.example.com", username="ci", password="pa55-w0rd")
    registries[private.host] = engine.add_registry(private)
    environ = {ENV_USERNAME: "ci", ENV_PASSWORD: "pa55-w0rd"}
    # An open registry never asks: the (slow) credential store is not consulted.
    run_to_end(push_app(app.path, registry=HOST, engine=fake_docker, environ=environ))
    assert credential_lookups == []
    # One behind auth refuses the first push; the stored credentials are found and used, once.
    result, events = run_to_end(
        push_app(app.path, registry=private.host, engine=fake_docker, environ=environ)
    )
    assert credential_lookups == [private.host]
    assert all(i.digest for i in result.images)
    asks = [e.line for e in events if isinstance(e, PhaseLog) and "asks for credentials" in e.line]
    assert asks == [f"{private.host} asks for credentials: pushing with them"]
    assert [c.details["auth_config"] for c in engine.calls_to("push")[-3:]] == [
        None,
        {"username": "ci", "password": "pa55-w0rd"},
        {"username": "ci", "password": "pa55-w0rd"},
    ]


def test_an_unreachable_registry_is_named(app, fake_docker, engine, registry):
    registry.reachable = False
    with pytest.raises(RegistryError) as caught:
        run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    assert str(caught.value).startswith(
        f"pushing {HOST}/hello:release-{app.meta_version} to registry {HOST} failed: "
    )
    assert "connection refused" in str(caught.value)
    with pytest.raises(RegistryError, match=r"127\.0\.0\.1:9"):
        run_to_end(push_app(app.path, registry="127.0.0.1:9", engine=fake_docker))


def test_pushing_before_building_says_so(make_app, fake_docker, engine, base_image, registry):
    app = make_app(SIMPLE_WITH_RELEASE)
    with pytest.raises(VersionNotBuilt) as caught:
        run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))
    assert str(caught.value) == (
        f"version {app.meta_version} of hello is not built on this engine (there is no image "
        f"hello:release-{app.meta_version}); build it first"
    )
    assert (caught.value.app, caught.value.version) == ("hello", app.meta_version)
    assert engine.calls_to("push") == [] and registry.tags("hello") == []


def test_a_push_past_the_timeout_is_stopped(app, fake_docker, engine, registry, engine_clock):
    registry.push_seconds = 5000
    with pytest.raises(LainTimeout, match=f"^pushing to {HOST} took longer than 3600s; stopped$"):
        run_to_end(push_app(app.path, registry=HOST, engine=fake_docker, timeout=3600))
    assert registry.tags("hello") == []


def test_engine_failures_while_pushing(app, fake_docker, engine, registry):
    def push():
        return run_to_end(push_app(app.path, registry=HOST, engine=fake_docker))

    # The engine goes away mid-push: docker-py reads the stream through urllib3.
    engine.fail_call(
        "push", urllib3.exceptions.ProtocolError("Connection broken: reset"), after_chunks=3
    )
    with pytest.raises(EngineError, match=r"lost the engine while pushing .*: Connection broken"):
        push()
    engine.fail_call("push", requests.exceptions.ConnectionError("connection refused"))
    with pytest.raises(EngineError, match="lost the engine while pushing"):
        push()
    engine.fail_call("push", engine_error(500, "registry is in read-only mode"))
    with pytest.raises(RegistryError, match="failed: registry is in read-only mode"):
        push()
    engine.fail_call("tag", engine_error(403, "denied: requested access to the resource is denied"))
    with pytest.raises(RegistryAuthError):
        push()


def test_push_app_with_the_app_and_version_given(app, fake_docker, tmp_path, registry):
    elsewhere = tmp_path / "not-an-app"
    elsewhere.mkdir()
    result, _ = run_to_end(
        push_app(
            elsewhere,
            app.meta_version,
            registry=f"https://{HOST}/",
            app="hello",
            engine=fake_docker,
        )
    )
    assert result.registry == HOST and result.meta_version == app.meta_version
    assert result.to_dict() == {
        "registry": HOST,
        "app": "hello",
        "meta_version": app.meta_version,
        "pushed": [i.to_dict() for i in result.images],
    }
    assert result.images[0].to_dict() == {
        "phase": "release",
        "reference": f"{HOST}/hello:release-{app.meta_version}",
        "digest": result.images[0].digest,
        "skipped_layers": 0,
        "uploaded_layers": result.images[0].uploaded_layers,
    }


def test_the_default_engine(app, fake_docker, registry, monkeypatch):
    monkeypatch.setattr("lain_sdk.engine.connect", lambda: fake_docker)
    result, _ = run_to_end(push_app(app.path, registry=HOST))
    assert [i.phase for i in result.images] == ["release", "meta"]


def test_push_images_reports_other_engine_lines_and_digests(fake_docker, engine, registry):
    image = engine.add_image("tool:1")
    pushed, _ = run_to_end(
        push_images(
            fake_docker,
            [("tool", image, f"{HOST}/tool:1")],
            registry=HOST,
            credentials=Credentials("anyone", "x"),
        )
    )
    assert pushed == (
        PushedImage("tool", f"{HOST}/tool:1", registry.manifest("tool", "1").digest, 0, 1),
    )
    assert engine.calls_to("push")[0].details["auth_config"] == {
        "username": "anyone",
        "password": "x",
    }


def test_naming_registries_and_push_errors():
    assert registry_host("registry.example.com/hello:release-1") == "registry.example.com"
    assert registry_host("127.0.0.1:5000/hello:1") == "127.0.0.1:5000"
    assert registry_host("localhost/hello") == "localhost"
    assert registry_host("lain-local/busybox:latest") is None
    assert registry_host("busybox") is None
    assert isinstance(push_error(HOST, "x", "denied: access"), RegistryAuthError)
    error = push_error(HOST, "x", "manifest invalid")
    assert type(error) is RegistryError and "manifest invalid" in str(error)
    assert credentials_for(None) is None and credentials_for("") is None
    assert credentials_for(HOST, {ENV_USERNAME: "u", ENV_PASSWORD: "p"}) == Credentials("u", "p")
