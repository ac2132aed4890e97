"""Schemathesis against a live `pufferd serve`: no route answers 5xx (issue 2, item 6).

One server for the whole module; every operation of the OpenAPI document becomes a test. The
document is built in-process from the same route registry the server serves it from (and a test
below proves the two are equal), so the cases are generated at collection time with schemathesis'
plain loader: its lazy pytest-fixture loader breaks against pytest 9.2 (it reads a removed private
attribute of pytest's test items), and a test that only runs with old pytest hides breaks. Each generated
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
from e2e_support import ServerProcess, launch
from hypothesis import HealthCheck, given, settings

from pufferd.web import openapi
from pufferd.web.routes import all_routes

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


DOCUMENT = openapi.build(all_routes(), title="pufferd")
schema = schemathesis.openapi.from_dict(DOCUMENT)


OPERATIONS = [result.ok() for result in schema.get_all_operations()]


# One pytest item per operation, each with its own node id (schemathesis' own parametrize gives
# every operation the same id, and pytest-xdist then runs only one of them).
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_operation_answers_a_server_error(operation, live_server: ServerProcess):
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def no_server_error(case) -> None:
        response = case.call(base_url=live_server.base_url, headers=live_server.headers(), timeout=30)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}\n"
            f"reproduce: {case.as_curl_command(headers=live_server.headers(), base_url=live_server.base_url)}")

    no_server_error()


def test_every_operation_of_the_document_is_fuzzed():
    """Guard: the parametrisation covers every operation of the served document."""
    documented = sum(1 for path in DOCUMENT["paths"].values() for method in path
                     if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"})
    assert len(OPERATIONS) == documented > 100


def test_the_token_the_fuzzer_sends_authenticates(live_server: ServerProcess):
    """Guard: if the signed token stopped working, every protected route would only ever see 401."""
    req = urllib.request.Request(f"{live_server.base_url}/api/v1/auth/me", headers=live_server.headers())
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["id"] == 1


def test_the_fuzzed_document_is_the_one_the_server_serves(live_server: ServerProcess):
    """Guard: the cases come from DOCUMENT, so it must be what /openapi.json answers (title aside)."""
    with urllib.request.urlopen(f"{live_server.base_url}/openapi.json", timeout=10) as resp:
        served = json.loads(resp.read())
    served["info"].pop("title")
    built = json.loads(json.dumps(DOCUMENT))
    built["info"].pop("title")
    assert served == built
