"""The federation state of a running server: the domain list in memory, unsealed actor keys and
 the delivery worker's wake-up."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Federation:
    domains: set[str] = field(default_factory=set)  # the admins' list (blocked, or allowed in allowlist mode)
    down_hosts: set[str] = field(default_factory=set)  # hosts marked down (delivery.py)
    private_keys: dict[int, Any] = field(default_factory=dict)  # user id -> unsealed RSA key
    instance_key: Any = None  # the instance actor's unsealed RSA key (actors.instance_signer)
    wake: asyncio.Event | None = None  # set when deliveries were queued; the worker creates it
    http: Any = None  # pufferd.federation.http.Fetcher, made on first use
    note_locks: dict[str, Any] = field(default_factory=dict)  # note id -> [asyncio.Lock, users] (inbox.py)

    def poke(self) -> None:
        """Wake the delivery worker (after a commit that queued deliveries)."""
        if self.wake is not None:
            self.wake.set()
