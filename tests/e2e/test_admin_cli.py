"""`pufferd admin ...` as a real subprocess, on an idle data directory and next to a running server."""
from __future__ import annotations

import asyncio
import email
import json
import time

import pyotp
import pytest
import requests
from e2e_support import ADMIN_EMAIL, ADMIN_USERNAME, run_pufferd

PASSWORD = "zoe's long password"
NEW_PASSWORD = "another long password"


@pytest.fixture
def server_env():
    return {"LOGIN_RATE_LIMIT_PER_MINUTE": "0"}


def admin(data_dir, *args, input=None):
    return run_pufferd("admin", *args, "--data-dir", data_dir, input=input)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result, fragment):
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pufferd: error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def login(server, email, password):
    return requests.post(f"{server.base_url}/api/v1/auth/login", json={"email": email, "password": password},
                         timeout=10)


def users_json(data_dir):
    return [json.loads(line) for line in ok(admin(data_dir, "list-users", "--json")).splitlines()]


# create-user ----------------------------------------------------------------------------------
def test_create_user_while_the_server_runs_then_log_in_over_http(server):
    out = ok(admin(server.data_dir, "create-user", "--username", "zoe", "--email", "Zoe@Example.com",
                   "--name", "Zoe Z", "--password", PASSWORD))
    assert "created user 2 zoe <zoe@example.com>" in out
    resp = login(server, "zoe@example.com", PASSWORD)
    assert resp.status_code == 200, resp.text
    me = requests.get(f"{server.base_url}/api/v1/auth/me", timeout=10,
                      headers={"Authorization": f"Bearer {resp.json()['access_token']}"}).json()
    assert me["name"] == "Zoe Z" and me["email_verified"] is True


def test_create_user_reads_the_password_from_the_prompt(initialised_dir):
    ok(admin(initialised_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com", "--admin",
             input=f"{PASSWORD}\n{PASSWORD}\n"))
    [_, zoe] = users_json(initialised_dir)
    assert zoe["username"] == "zoe" and zoe["is_admin"] is True


@pytest.mark.parametrize("args, fragment", [
    (["--username", "zo", "--email", "zoe@example.com", "--password", PASSWORD], "username"),
    (["--username", "zoe", "--email", "not-an-email", "--password", PASSWORD], "email"),
    (["--username", "zoe", "--email", "zoe@example.com", "--password", "short"], "at least 8 characters"),
    (["--username", "zoe", "--email", "zoe@example.com", "--password", "é" * 40], "72 bytes"),
    (["--username", ADMIN_USERNAME.upper(), "--email", "zoe@example.com", "--password", PASSWORD], "already taken"),
    (["--username", "zoe", "--email", ADMIN_EMAIL, "--password", PASSWORD], "already registered"),
])
def test_create_user_applies_the_registration_rules(initialised_dir, args, fragment):
    refused(admin(initialised_dir, "create-user", *args), fragment)
    assert [u["username"] for u in users_json(initialised_dir)] == [ADMIN_USERNAME]


# reset-password -------------------------------------------------------------------------------
def test_reset_password_signs_the_user_out_of_the_running_server(server):
    token = login(server, ADMIN_EMAIL, "admin-password-1").json()
    out = ok(admin(server.data_dir, "reset-password", ADMIN_USERNAME, "--password", NEW_PASSWORD))
    assert "1 session(s) signed out" in out
    resp = requests.get(f"{server.base_url}/api/v1/auth/me", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code == 401
    refreshed = requests.post(f"{server.base_url}/api/v1/auth/refresh", timeout=10,
                              json={"refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 401
    assert login(server, ADMIN_EMAIL, "admin-password-1").status_code == 401
    assert login(server, ADMIN_EMAIL, NEW_PASSWORD).status_code == 200


def test_reset_password_refuses_a_weak_password_and_an_unknown_user(initialised_dir):
    refused(admin(initialised_dir, "reset-password", "1", "--password", "aaaaaaaaaa"), "too simple")
    refused(admin(initialised_dir, "reset-password", "nobody", "--password", NEW_PASSWORD), "no user 'nobody'")


# reset-2fa ------------------------------------------------------------------------------------
def test_reset_2fa_turns_2fa_off_signs_out_and_mails_the_owner(server):
    token = login(server, ADMIN_EMAIL, "admin-password-1").json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    secret = requests.post(f"{server.base_url}/api/v1/auth/2fa/setup", headers=headers, timeout=10).json()["secret"]
    resp = requests.post(f"{server.base_url}/api/v1/auth/2fa/enable", headers=headers, timeout=10,
                         json={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["recovery_codes"]) == 10
    assert login(server, ADMIN_EMAIL, "admin-password-1").status_code == 401  # a code is needed now

    out = ok(admin(server.data_dir, "reset-2fa", ADMIN_EMAIL))
    assert "2FA of admin turned off; 1 session(s) signed out" in out
    assert requests.get(f"{server.base_url}/api/v1/auth/me", headers=headers, timeout=10).status_code == 401
    assert login(server, ADMIN_EMAIL, "admin-password-1").status_code == 200
    mails = [email.message_from_bytes(p.read_bytes()) for p in sorted((server.data_dir / "mail" / "outbox").glob("*.eml"))]
    assert [m["Subject"] for m in mails if m["To"] == ADMIN_EMAIL and "is off" in m["Subject"]] == [
        "Two-factor authentication is off for your pufferd-e2e account"]
    entries = [json.loads(line) for line in ok(admin(server.data_dir, "audit", "--event", "admin_reset_2fa",
                                                     "--json")).splitlines()]
    assert len(entries) == 1 and entries[0]["actor"].startswith("cli")


def test_reset_2fa_refuses_a_user_without_2fa_and_an_unknown_user(initialised_dir):
    refused(admin(initialised_dir, "reset-2fa", ADMIN_USERNAME), "does not use 2FA")
    refused(admin(initialised_dir, "reset-2fa", "nobody"), "no user 'nobody'")


# set-admin / disable-user ---------------------------------------------------------------------
def test_set_admin_and_take_it_back(initialised_dir):
    ok(admin(initialised_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com", "--password", PASSWORD))
    assert "zoe is now an administrator" in ok(admin(initialised_dir, "set-admin", "zoe@example.com"))
    assert users_json(initialised_dir)[1]["is_admin"] is True
    assert "zoe is no longer an administrator" in ok(admin(initialised_dir, "set-admin", "2", "--off"))
    assert users_json(initialised_dir)[1]["is_admin"] is False


def test_the_owner_cannot_be_demoted_or_disabled(initialised_dir):
    refused(admin(initialised_dir, "set-admin", ADMIN_USERNAME, "--off"), "is the owner")
    refused(admin(initialised_dir, "disable-user", ADMIN_USERNAME), "is the owner")
    assert users_json(initialised_dir)[0]["is_admin"] is True


def test_disable_user_refuses_their_tokens_and_logins_until_enabled(server):
    ok(admin(server.data_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com",
             "--password", PASSWORD))
    token = login(server, "zoe@example.com", PASSWORD).json()["access_token"]
    me = f"{server.base_url}/api/v1/auth/me"
    assert requests.get(me, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    out = ok(admin(server.data_dir, "disable-user", "zoe"))
    assert "zoe disabled; 1 session(s) signed out" in out
    # the server sees a change from another process once its token cache entry ages out (1 s)
    deadline = time.monotonic() + 3
    while requests.get(me, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code != 401:
        assert time.monotonic() < deadline, "a disabled user's token still works"
        time.sleep(0.1)
    assert login(server, "zoe@example.com", PASSWORD).status_code == 403
    assert "zoe enabled" in ok(admin(server.data_dir, "disable-user", "zoe", "--enable"))
    assert login(server, "zoe@example.com", PASSWORD).status_code == 200


async def test_disable_user_while_serving_closes_their_websockets_with_4001(server):
    import aiohttp
    ok(admin(server.data_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com",
             "--password", PASSWORD))
    token = login(server, "zoe@example.com", PASSWORD).json()["access_token"]
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server.base_url + "/api/v1/ws", params={"token": token})
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        started = time.monotonic()
        result = await asyncio.to_thread(admin, server.data_dir, "disable-user", "zoe")
        ok(result)
        msg = await ws.receive(timeout=5)
        # the code the server's closing frame carried (close_code turns 1006 when the server has
        # dropped the connection before the client's answering frame could be sent)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4001, msg
        assert time.monotonic() - started < 4  # the CLI run itself, then one poll of the server


# list-users / audit ---------------------------------------------------------------------------
def test_list_users_prints_a_table(initialised_dir):
    ok(admin(initialised_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com",
             "--password", PASSWORD, "--unverified"))
    lines = ok(admin(initialised_dir, "list-users")).splitlines()
    assert lines[0].split() == ["ID", "USERNAME", "EMAIL", "NAME", "FLAGS", "CREATED"]
    assert lines[1].split()[:5] == ["1", ADMIN_USERNAME, ADMIN_EMAIL, ADMIN_USERNAME, "owner,verified"]
    assert lines[2].split()[:5] == ["2", "zoe", "zoe@example.com", "zoe", "-"]
    assert ok(admin(initialised_dir, "list-users", "--after-id", "1", "--json")).count("\n") == 1


def test_audit_shows_logins_and_admin_actions_newest_first(server):
    login(server, ADMIN_EMAIL, "wrong password!!")
    login(server, ADMIN_EMAIL, "admin-password-1")
    ok(admin(server.data_dir, "create-user", "--username", "zoe", "--email", "zoe@example.com", "--password", PASSWORD))
    entries = [json.loads(line) for line in ok(admin(server.data_dir, "audit", "--json")).splitlines()]
    assert [e["event"] for e in entries[:3]] == ["admin_create_user", "login_succeeded", "login_failed"]
    assert entries[0]["actor"].startswith("cli") and entries[0]["user_id"] == 2
    assert entries[2]["ip"] == "127.0.0.1" and entries[2]["detail"] == {"reason": "bad_password"}
    assert entries[2]["user_agent"].startswith("python-requests")
    text = ok(admin(server.data_dir, "audit", "--event", "login_failed")).splitlines()
    assert len(text) == 1 and "login_failed" in text[0] and "ip=127.0.0.1" in text[0]
    by_user = [json.loads(line) for line in ok(admin(server.data_dir, "audit", "--user", "zoe", "--json")).splitlines()]
    assert [e["event"] for e in by_user] == ["admin_create_user"]
    assert ok(admin(server.data_dir, "audit", "--limit", "1")).count("\n") == 1


def test_audit_refuses_an_unknown_event(initialised_dir):
    refused(admin(initialised_dir, "audit", "--event", "nonsense"), "unknown event 'nonsense'")


def test_admin_on_a_directory_that_is_not_initialised_fails_cleanly(tmp_path):
    (tmp_path / "empty").mkdir()
    refused(admin(tmp_path / "empty", "list-users"), "not an initialised pufferd data directory")
