"""Which remote actor documents are a server's own actor (checked and ignored, never a shadow user)
and which are people or bots (federation/actors.is_instance_actor)."""
from __future__ import annotations

import pytest

from pufferd.federation.actors import is_instance_actor


def doc(type_: str, name: object, url: str = "https://social.example/actor") -> dict[str, object]:
    return {"id": url, "type": type_, "preferredUsername": name}


@pytest.mark.parametrize("document", [
    doc("Application", "social.example"),  # Mastodon, GoToSocial, pufferd: named after the host
    doc("Application", "Social.Example"),
    doc("Service", "social.example:8443", "https://social.example:8443/actor"),  # with a port
    doc("Service", "instance.actor", "https://misskey.example/users/9abc"),  # Misskey and its forks
    doc("Application", "relay.actor", "https://misskey.example/users/9abd"),
])
def test_server_actors_are_recognised(document):
    assert is_instance_actor(document)


@pytest.mark.parametrize("document", [
    doc("Person", "social.example"),  # a person may take any name
    doc("Person", "instance.actor"),
    doc("Service", "newsbot"),  # a bot account
    doc("Application", "other.example"),  # named after another host
    doc("Application", None),
    doc("Group", "social.example"),
])
def test_people_bots_and_others_are_not(document):
    assert not is_instance_actor(document)
