"""Administration against a real `pufferd serve`: `pufferd admin set-role` seen by the running
server, the public server info, a runtime setting and an IP block (issue 13)."""
from __future__ import annotations

import json
import time

import requests
from e2e_support import ADMIN_USERNAME, run_pufferd

PASSWORD = "zoe's long password"


def admin(data_dir, *args):
    return run_pufferd("admin", *args, "--data-dir", data_dir)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result, fragment):
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("pufferd: error: ") and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def roles(data_dir):
    return {u["username"]: u["role"] for u in map(json.loads, ok(admin(data_dir, "list-users", "--json")).splitlines())}


def test_server_info_is_public_and_follows_a_settings_change(server):
    url = f"{server.base_url}/api/v1/system/server-info"
    info = requests.get(url, timeout=10).json()
    assert info["name"] == "pufferd-e2e" and info["registration_mode"] == "open"
    assert info["members_count"] == 1 and info["max_upload_size_bytes"] > 0 and "image/png" in info["allowed_upload_types"]
    resp = requests.put(f"{server.base_url}/api/v1/system/settings", headers=server.headers(), timeout=10,
                        json={"settings": {"registration_mode": "closed", "ws_heartbeat_seconds": 20}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["restart_required"] is True
    assert requests.get(url, timeout=10).json()["registration_mode"] == "closed"
    resp = requests.post(f"{server.base_url}/api/v1/auth/register", timeout=10, json={
        "email": "zoe@example.com", "username": "zoe", "name": "Zoe", "password": PASSWORD})
    assert resp.status_code == 403 and resp.json()["detail"] == "Registration is closed on this server"


def test_set_role_while_the_server_runs(server):
    ok(admin(server.data_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com", "--password", PASSWORD))
    zoe = {"Authorization": f"Bearer {server.token(2)}"}
    audit = f"{server.base_url}/api/v1/system/audit"
    assert requests.get(audit, headers=zoe, timeout=10).status_code == 403
    assert "zoe is now moderator (was user)" in ok(admin(server.data_dir, "set-role", "zoe", "moderator",
                                                         "--reason", "trusted"))
    assert "zoe is now admin (was moderator)" in ok(admin(server.data_dir, "set-role", "zoe", "admin"))
    # the running server sees the change within its token cache time (1 s)
    deadline = time.monotonic() + 3
    while requests.get(audit, headers=zoe, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the new role did not reach the running server"
        time.sleep(0.1)
    entries = requests.get(audit, params={"action": "role_changed"}, headers=zoe, timeout=10).json()["entries"]
    assert [(e["username"], e["detail"]["to"]) for e in entries] == [("zoe", "admin"), ("zoe", "moderator")]
    assert entries[1]["actor"].startswith("cli") and entries[1]["detail"]["reason"] == "trusted"


def test_set_role_hands_over_ownership_and_protects_the_owner(initialised_dir):
    ok(admin(initialised_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com", "--password", PASSWORD))
    refused(admin(initialised_dir, "set-role", ADMIN_USERNAME, "admin"), "is the owner")
    out = ok(admin(initialised_dir, "set-role", "zoe", "owner"))
    assert "zoe is now owner (was user)" in out and f"{ADMIN_USERNAME} is now admin (was owner)" in out
    assert roles(initialised_dir) == {ADMIN_USERNAME: "admin", "zoe": "owner"}
    assert "is now an administrator" in ok(admin(initialised_dir, "set-admin", ADMIN_USERNAME))
    assert roles(initialised_dir)[ADMIN_USERNAME] == "admin"
    refused(admin(initialised_dir, "set-admin", "zoe", "--off"), "is the owner")
    bad = admin(initialised_dir, "set-role", "zoe", "king")
    assert bad.returncode == 2 and "'king' is not one of 'owner', 'admin', 'moderator', 'user'" in bad.stderr


def test_ip_block_through_the_real_server(server):
    base = server.base_url
    resp = requests.post(f"{base}/api/v1/system/ip-blocks", headers=server.headers(), timeout=10,
                         json={"network": "127.0.0.0/8", "reason": "test"})
    assert resp.status_code == 409 and "lock yourself out" in resp.json()["detail"]
    resp = requests.post(f"{base}/api/v1/system/ip-blocks", headers=server.headers(), timeout=10,
                         json={"network": "127.0.0.0/8", "force": True})
    assert resp.status_code == 201, resp.text
    blocked = requests.get(f"{base}/api/v1/system/server-info", timeout=10)
    assert blocked.status_code == 403 and "blocked" in blocked.json()["detail"]
    assert requests.get(f"{base}/health/live", timeout=10).status_code == 200
