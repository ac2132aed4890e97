"""Smoke test of a built pufferd executable: packaging/smoke.sh runs it (see packaging/README.md).

    python packaging/smoke.py BINARY [--emulated] [--workdir DIR]

Runs, against BINARY and nothing else: `version`, `init`, `serve` (port 0), registers two users,
the first sends the second a message that arrives over the second's WebSocket, an upload and its
download, then SIGTERM, `doctor` and `backup`. Every answer is checked; the first wrong one stops
the run with exit status 1. Timings of each step are printed. `--emulated` only allows longer
timeouts (an arm64 binary under qemu-user starts many times slower). Needs aiohttp (a runtime
dependency of pufferd, so any Python that builds pufferd has it).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

LISTENING = re.compile(r"listening on (http://\S+?:\d+)")
PASSWORD = "smoke-test-password-1"


class SmokeFailure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)


class Smoke:
    def __init__(self, binary: Path, work: Path, emulated: bool) -> None:
        self.binary = binary
        self.work = work
        self.data = work / "data"
        self.scale = 10.0 if emulated else 1.0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_")}
        self.env["TMPDIR"] = str(work)
        self.env["PUFFERD_UNPACK_DIR"] = str(work / "unpacked")  # the first step unpacks the build
        self.timings: list[tuple[str, float]] = []

    def step(self, name: str, started: float) -> None:
        elapsed = time.monotonic() - started
        self.timings.append((name, elapsed))
        print(f"smoke: ok   {name:<28} {elapsed:7.2f} s", flush=True)

    def run(self, *args: str, timeout: float = 30) -> str:
        proc = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout * self.scale)
        check(proc.returncode == 0, f"`pufferd {args[0]}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def cli_before(self) -> None:
        t = time.monotonic()
        out = self.run("version")
        check(out.startswith("pufferd "), f"version printed {out!r}")
        self.step("version (first start)", t)
        t = time.monotonic()
        self.run("init", "--data-dir", str(self.data), "--non-interactive", "--admin-username", "admin",
                 "--admin-email", "admin@example.com", "--admin-password", PASSWORD, "--bcrypt-rounds", "4",
                 timeout=60)
        check((self.data / "settings.toml").exists() or any(self.data.iterdir()), "init wrote nothing")
        self.step("init", t)

    def serve(self) -> tuple[subprocess.Popen[bytes], str, Path]:
        t = time.monotonic()
        log = self.work / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(self.binary), "serve", "--data-dir", str(self.data), "--port", "0"],
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30 * self.scale
        while time.monotonic() < deadline:
            m = LISTENING.search(log.read_text(errors="replace"))
            if m:
                self.step("serve: listening", t)
                return proc, m.group(1), log
            if proc.poll() is not None:
                raise SmokeFailure(f"serve exited {proc.returncode}:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        proc.kill()
        raise SmokeFailure(f"serve did not listen in time:\n{log.read_text(errors='replace')}")

    async def api(self, http: aiohttp.ClientSession, method: str, url: str, status: int = 200,
                  token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with http.request(method, url, headers=headers, **kw) as resp:
            body = await resp.read()
            check(resp.status == status, f"{method} {url}: {resp.status} (wanted {status}): {body[:500]!r}")
            return await resp.json() if body and resp.content_type == "application/json" else body

    async def user(self, http: aiohttp.ClientSession, base: str, name: str) -> tuple[str, int]:
        email = f"{name}@example.com"
        await self.api(http, "POST", base + "/api/v1/auth/register", 201, json={
            "email": email, "name": name.title(), "username": name, "password": PASSWORD})
        tokens = await self.api(http, "POST", base + "/api/v1/auth/login",
                                json={"email": email, "password": PASSWORD})
        me = await self.api(http, "GET", base + "/api/v1/users/me", token=tokens["access_token"])
        check(me["username"] == name, f"users/me answered {me}")
        return tokens["access_token"], me["id"]

    async def http_steps(self, base: str) -> None:
        timeout = aiohttp.ClientTimeout(total=30 * self.scale)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            t = time.monotonic()
            live = await self.api(http, "GET", base + "/health/live")
            check(bool(live), "empty /health/live")
            self.step("health/live", t)

            t = time.monotonic()
            alice, _ = await self.user(http, base, "alice")
            bob, bob_id = await self.user(http, base, "bob")
            self.step("register + login x2", t)

            t = time.monotonic()
            ws = await http.ws_connect(base + "/api/v1/ws", headers={"Authorization": f"Bearer {bob}"})
            chat = await self.api(http, "POST", base + "/api/v1/chats", token=alice,
                                  json={"type": "private", "member_ids": [bob_id]})
            sent = await self.api(http, "POST", base + "/api/v1/messages", 201, token=alice,
                                  json={"chat_id": chat["id"], "type": "text", "text": "hello from smoke"})
            deadline = time.monotonic() + 20 * self.scale
            while True:
                frame = await asyncio.wait_for(ws.receive_json(), deadline - time.monotonic())
                if frame.get("type") == "message_created":
                    break
            check(frame["data"]["id"] == sent["id"] and frame["data"]["text"] == "hello from smoke",
                  f"WebSocket frame {frame}")
            await ws.close()
            self.step("message over WebSocket", t)

            t = time.monotonic()
            data = b"\x89PNG\r\n\x1a\n" + os.urandom(64 * 1024)
            ticket = await self.api(http, "POST", base + "/api/v1/media/upload-url", token=alice, json={
                "file_name": "smoke.png", "file_type": "image/png", "file_size": len(data)})
            async with http.put(ticket["upload_url"], data=data, headers=ticket["required_headers"]) as resp:
                check(resp.status == 200, f"upload: {resp.status} {await resp.text()}")
            got = await self.api(http, "GET", ticket["file_url"], token=alice)
            check(got == data, f"download gave {len(got)} bytes, not the {len(data)} uploaded")
            self.step("upload + download", t)

    def cli_after(self) -> None:
        t = time.monotonic()
        out = self.run("doctor", "--data-dir", str(self.data), timeout=60)
        check("doctor: all " in out, f"doctor printed:\n{out}")
        self.step("doctor", t)
        t = time.monotonic()
        dest = self.work / "backups"
        out = self.run("backup", str(dest), "--data-dir", str(self.data), timeout=60)
        check("backup of " in out and dest.exists() and any(dest.iterdir()), f"backup printed:\n{out}")
        self.step("backup", t)

    def main(self) -> None:
        started = time.monotonic()
        self.cli_before()
        proc, base, log = self.serve()
        try:
            asyncio.run(self.http_steps(base))
        finally:
            t = time.monotonic()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30 * self.scale)
        check(code == 0, f"serve exited {code} on SIGTERM:\n{log.read_text(errors='replace')}")
        check("Traceback" not in log.read_text(errors="replace"), f"serve logged:\n{log.read_text()}")
        self.step("serve: stop (SIGTERM)", t)
        self.cli_after()
        print(f"smoke: all steps passed in {time.monotonic() - started:.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("binary", type=Path)
    parser.add_argument("--emulated", action="store_true", help="allow 10x longer timeouts")
    parser.add_argument("--workdir", type=Path, help="keep the data directory and logs here")
    args = parser.parse_args()
    binary = args.binary.resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"smoke: {binary} is not an executable file", file=sys.stderr)
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pufferd-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        Smoke(binary, work.resolve(), args.emulated).main()
    except (TimeoutError, SmokeFailure, subprocess.TimeoutExpired, aiohttp.ClientError) as exc:
        print(f"smoke: FAILED: {exc!r}" if not isinstance(exc, SmokeFailure) else f"smoke: FAILED: {exc}",
              file=sys.stderr)
        print(f"smoke: files kept in {work}", file=sys.stderr)
        return 1
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
