"""The lock files pin what setup.cfg asks for (README, "Dependencies and lock files").

A range changed in setup.cfg without `requirements/lock.sh` would leave README's commands and the
binary on versions the range no longer allows; a pin without hashes would let pip install an
unchecked file. Both are caught here, before a user meets them.
"""
from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"server": [], "build": ["build"], "test": ["test"]}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def declared(extras: list[str]) -> list[Requirement]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    return [Requirement(line) for line in lines if line.strip()]


def parse_lock(name: str) -> dict[str, tuple[str, str | None, list[str]]]:
    """Name -> (version, marker, hashes) of every pin in requirements/NAME.txt."""
    pins: dict[str, tuple[str, str | None, list[str]]] = {}
    current: str | None = None
    for line in (ROOT / "requirements" / f"{name}.txt").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (match[2], match[3], [])
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current][2].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif not line.startswith(" "):
            current = None
    return pins


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_declared_dependency_is_pinned_within_its_range(lock: str):
    pins = parse_lock(lock)
    problems = []
    for req in declared(LOCKS[lock]):
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req}: not in requirements/{lock}.txt")
        elif not req.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{req}: locked at {pin[0]}, outside the range")
    assert not problems, "run requirements/lock.sh:\n" + "\n".join(problems)


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_sha256_hashes(lock: str):
    pins = parse_lock(lock)
    assert pins, f"requirements/{lock}.txt pins nothing"
    unhashed = [name for name, (_, _, hashes) in pins.items()
                if not hashes or not all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)]
    assert not unhashed, unhashed


def test_the_locks_agree_on_every_shared_version():
    """build.txt and test.txt are resolved within server.txt: one version of each package everywhere."""
    server, build, test = (parse_lock(n) for n in ("server", "build", "test"))
    differing = [f"{name}: server {version}, build {build.get(name, (None,))[0]}, test {test.get(name, (None,))[0]}"
                 for name, (version, _, _) in server.items()
                 if build.get(name, (version,))[0] != version or test.get(name, (version,))[0] != version]
    assert not differing, differing


def test_uvloop_is_in_the_default_install_on_linux():
    """bench/BENCHMARKS.md was measured with uvloop: a default install gets the measured server."""
    version, marker, _ = parse_lock("server")["uvloop"]
    env = dict(default_environment(), sys_platform="linux", platform_python_implementation="CPython")
    assert marker is None or Requirement(f"uvloop=={version}; {marker}").marker.evaluate(env)


def test_the_federation_peer_lock_pins_its_input_with_hashes():
    """requirements/federation-peer.txt (the third-party server of the federation tests, an
    environment of its own) pins what federation-peer.in asks for, every pin hashed."""
    pins = parse_lock("federation-peer")
    lines = (ROOT / "requirements" / "federation-peer.in").read_text().splitlines()
    wanted = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert wanted
    for req in wanted:
        pin = pins.get(canonicalize_name(req.name))
        assert pin is not None and req.specifier.contains(pin[0]), f"{req}: run requirements/lock.sh"
    assert all(hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) for _, _, hashes in pins.values())
