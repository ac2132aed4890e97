"""Schemathesis against a live `pufferd serve`: no route answers 5xx (issue 2, item 6).

One server for the whole module; every operation in /openapi.json becomes a test. Each generated
request carries a freshly signed administrator token, because earlier fuzzed calls may revoke
sessions or change the password and would otherwise turn the rest of the run into 401s.
The run is bounded: PUFFERD_FUZZ_EXAMPLES examples per operation (default 8).
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from e2e_support import ServerProcess, launch

MAX_EXAMPLES = int(os.environ.get("PUFFERD_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def live_server(template_init_dir, tmp_path_factory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("fuzz")
    data_dir = root / "data"
    shutil.copytree(template_init_dir, data_dir)
    # rate limits would answer most fuzzed requests with 429 and hide the handlers behind them
    env = {name: "0" for name in ("PUFFERD_LOGIN_RATE_LIMIT_PER_MINUTE", "PUFFERD_REGISTER_RATE_LIMIT_PER_MINUTE",
                                  "PUFFERD_REFRESH_RATE_LIMIT_PER_MINUTE", "PUFFERD_RESET_RATE_LIMIT_PER_MINUTE",
                                  "PUFFERD_MESSAGE_RATE_LIMIT_PER_MINUTE",
                                  "PUFFERD_DUPLICATE_MESSAGE_COOLDOWN_SECONDS")}
    server = launch(data_dir, env=env, logs=root / "logs")
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def api_schema(live_server: ServerProcess):
    return schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, live_server: ServerProcess):
    response = case.call(headers=live_server.headers(), timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command(headers=live_server.headers())}")


def test_the_token_the_fuzzer_sends_authenticates(live_server: ServerProcess):
    """Guard: if the signed token stopped working, every protected route would only ever see 401."""
    req = urllib.request.Request(f"{live_server.base_url}/api/v1/auth/me", headers=live_server.headers())
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["id"] == 1
