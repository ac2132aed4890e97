"""The in-process event bus (the `Bus` port of DESIGN.md).

Domain code publishes an Event after its transaction commits, addressed to the user ids that may
see it; the realtime layer subscribes and delivers. Delivery to subscribers is synchronous and
must not block: subscribers enqueue and return.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("pufferd.bus")


@dataclass(frozen=True, slots=True)
class Event:
    """One change a client may display: CONTRACT.md "Realtime" lists the types and their data."""

    type: str
    data: dict[str, Any]
    user_ids: frozenset[int]

    @classmethod
    def to(cls, type_: str, data: dict[str, Any], user_ids: Iterable[int]) -> Event:
        return cls(type_, data, frozenset(user_ids))


Subscriber = Callable[[Event], None]


class Bus:
    """Publish/subscribe within one process."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    def publish(self, event: Event) -> None:
        if not event.user_ids:
            return
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # one faulty subscriber must not break the publisher's request
                log.exception("bus subscriber failed for %s", event.type)
