"""Settings changed at run time: the configured value under a stored override, validation by the
Settings model, runtime values changed in place, restart values waiting, bad stored values left
out at start-up."""
from __future__ import annotations

import json
import logging

import pytest

from pufferd.config import Settings
from pufferd.livesettings import InvalidSettings, LiveSettings, validate


@pytest.fixture
def configured(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, max_message_length=500)


def test_start_applies_stored_overrides_over_the_configured_values(configured):
    live = LiveSettings.start(configured, {"max_message_length": "100", "ws_heartbeat_seconds": "12.5"})
    assert live.current.max_message_length == 100 and live.current.ws_heartbeat_seconds == 12.5
    assert live.configured.max_message_length == 500 and live.current is not configured
    assert not live.restart_pending("ws_heartbeat_seconds")


def test_start_leaves_out_stored_values_that_are_no_longer_valid(configured, caplog):
    with caplog.at_level(logging.WARNING, "pufferd.settings"):
        live = LiveSettings.start(configured, {"max_message_length": "-5", "gone_setting": "1", "max_users": "{"})
    assert live.current.max_message_length == 500 and live.stored == {}
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert all(f"stored setting {name}:" in logged for name in ("max_message_length", "gone_setting", "max_users"))


def test_runtime_change_lands_in_place_and_restart_change_waits(configured):
    live = LiveSettings.start(configured, {})
    holder = live.current  # e.g. the realtime hub keeps this object
    candidate, stored = live.effective_if({"max_message_length": 42, "ws_heartbeat_seconds": 20})
    assert stored == {"max_message_length": 42, "ws_heartbeat_seconds": 20.0}
    waiting = live.apply(stored, candidate)
    assert waiting == ["ws_heartbeat_seconds"]
    assert holder.max_message_length == 42 and holder.ws_heartbeat_seconds == 30.0
    assert live.restart_pending("ws_heartbeat_seconds") and not live.restart_pending("max_message_length")
    # dropping the stored value: the configured one applies again
    candidate, stored = live.effective_if({"max_message_length": None})
    live.apply(stored, candidate)
    assert holder.max_message_length == 500 and "max_message_length" not in live.stored


def test_validation_names_each_refused_setting(configured):
    with pytest.raises(InvalidSettings) as caught:
        validate(configured, {"max_message_length": 0, "registration_mode": "maybe", "port": 1, "nope": 1})
    assert set(caught.value.problems) == {"max_message_length", "registration_mode", "port", "nope"}
    assert "cannot be changed over the API" in caught.value.problems["port"]
    assert "no such setting" in caught.value.problems["nope"]


def test_values_are_stored_as_their_validated_json(configured):
    live = LiveSettings.start(configured, {})
    _, stored = live.effective_if({"max_upload_size_bytes": "2048", "require_verified_email": "true"})
    assert stored == {"max_upload_size_bytes": 2048, "require_verified_email": True}
    assert json.loads(json.dumps(stored)) == stored
