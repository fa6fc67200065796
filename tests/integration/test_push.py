"""Pushing to real registries (open and behind auth), and reusing prepare images from them."""

from __future__ import annotations

from typing import Any

import pytest
from apps import make_app, remove_app_images
from fakes.repos import SIMPLE_WITH_RELEASE, WITH_PREPARE

from lain_sdk.credentials import Credentials
from lain_sdk.errors import RegistryAuthError, RegistryError, VersionNotBuilt
from lain_sdk.events import Event, LayerProgress, Message, PhaseFinished, PhaseLog, drain
from lain_sdk.images import build_app, push_app
from lain_sdk.registry import RegistryClient


def collect(operation) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    return drain(operation, on_event=events.append), events


@pytest.fixture
def cleanup(docker_client: Any):
    names: list[str] = []
    yield names.append
    for name in names:
        remove_app_images(docker_client, name)


def test_push_lists_the_version_and_skips_layers_the_registry_has(
    docker_client, base_image, registry, tmp_path, cleanup
):
    app = make_app(tmp_path, SIMPLE_WITH_RELEASE)
    cleanup(app.name)
    drain(build_app(app.path, engine=docker_client))
    mv = app.meta_version
    result, events = collect(push_app(app.path, registry=registry.host, engine=docker_client))
    assert result.references == [
        f"{registry.host}/{app.name}:release-{mv}",
        f"{registry.host}/{app.name}:meta-{mv}",
    ]
    with RegistryClient(registry.host) as client:
        assert client.app_versions(app.name) == [mv]
        for image in result.images:
            assert image.digest == client.manifest_digest(
                app.name, image.reference.rsplit(":", 1)[1]
            )
    assert result.images[0].uploaded_layers >= 1  # at least the layer holding built.txt
    assert any(isinstance(e, LayerProgress) and e.status == "Pushed" for e in events)

    again, events = collect(push_app(app.path, mv, registry=registry.host, engine=docker_client))
    assert [i.digest for i in again.images] == [i.digest for i in result.images]
    assert all(i.uploaded_layers == 0 and i.skipped_layers >= 1 for i in again.images)
    statuses = {e.status for e in events if isinstance(e, LayerProgress)}
    assert "Layer already exists" in statuses and "Pushed" not in statuses
    assert all(e.cached for e in events if isinstance(e, PhaseFinished))


def test_build_push_sends_prepare_and_the_next_build_pulls_it(
    docker_client, base_image, registry, tmp_path, cleanup
):
    app = make_app(tmp_path, WITH_PREPARE)
    cleanup(app.name)
    built, _ = collect(build_app(app.path, engine=docker_client, registry=registry.host, push=True))
    assert [p.phase for p in built.pushed] == ["prepare", "release", "meta"]
    key = built.images["prepare"].split(":prepare-")[1]
    with RegistryClient(registry.host) as client:
        assert client.has_tag(app.name, f"prepare-{key}")
        assert client.app_versions(app.name) == [built.meta_version]

    # Without the prepare image here, the next build takes the registry's instead of building it.
    for reference in (built.images["prepare"], f"{registry.host}/{built.images['prepare']}"):
        docker_client.api.remove_image(reference)
    app.write("code.txt", "new\n")
    app.commit("code change")
    again, events = collect(build_app(app.path, engine=docker_client, registry=registry.host))
    assert again.images["prepare"] == built.images["prepare"]
    assert again.image_ids["prepare"] == built.image_ids["prepare"]
    assert "prepare" in again.reused
    assert any(isinstance(e, Message) and "pulling the prepare image" in e.text for e in events)
    assert not any(
        isinstance(e, PhaseLog) and e.phase == "prepare" and "RUN" in e.line for e in events
    )


def test_auth_registry_wants_credentials(
    docker_client, base_image, auth_registry, tmp_path, cleanup
):
    app = make_app(tmp_path, SIMPLE_WITH_RELEASE)
    cleanup(app.name)
    drain(build_app(app.path, engine=docker_client))
    with pytest.raises(RegistryAuthError) as caught:
        drain(push_app(app.path, registry=auth_registry.host, engine=docker_client))
    assert auth_registry.host in str(caught.value)
    wrong = Credentials(auth_registry.username, "wrong-password")
    with pytest.raises(RegistryAuthError):
        drain(
            push_app(
                app.path,
                registry=auth_registry.host,
                engine=docker_client,
                credentials=wrong,
            )
        )
    right = Credentials(auth_registry.username, auth_registry.password)
    result = drain(
        push_app(app.path, registry=auth_registry.host, engine=docker_client, credentials=right)
    )
    assert all(i.digest for i in result.images)
    assert auth_registry.password not in repr(result)


def test_unreachable_registry_is_named(docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_WITH_RELEASE)
    cleanup(app.name)
    drain(build_app(app.path, engine=docker_client))
    with pytest.raises(RegistryError) as caught:
        drain(push_app(app.path, registry="127.0.0.1:9", engine=docker_client, timeout=60))
    assert "127.0.0.1:9" in str(caught.value)


def test_push_before_build_says_so(docker_client, base_image, registry, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_WITH_RELEASE)
    cleanup(app.name)
    with pytest.raises(VersionNotBuilt, match="is not built on this engine"):
        drain(push_app(app.path, registry=registry.host, engine=docker_client))


def test_stored_credentials_are_looked_up_only_when_the_registry_asks(
    docker_client, base_image, registry, auth_registry, tmp_path, cleanup, credential_lookups
):
    from lain_sdk.credentials import ENV_PASSWORD, ENV_USERNAME

    app = make_app(tmp_path, SIMPLE_WITH_RELEASE)
    cleanup(app.name)
    drain(build_app(app.path, engine=docker_client))
    # An open registry never asks: the (slow) credential store is not consulted.
    drain(push_app(app.path, registry=registry.host, engine=docker_client))
    assert credential_lookups == []
    # One behind auth refuses the first push; the stored credentials are then found and used.
    environ = {ENV_USERNAME: auth_registry.username, ENV_PASSWORD: auth_registry.password}
    result, events = collect(
        push_app(app.path, registry=auth_registry.host, engine=docker_client, environ=environ)
    )
    assert credential_lookups == [auth_registry.host]
    assert all(i.digest for i in result.images)
    assert not any(auth_registry.password in str(e) for e in events)
