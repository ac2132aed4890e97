"""Code for tests/web/test_raises.py to read: one function per rule of pufferd/web/raises.py."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from pufferd.errors import Conflict, DomainError, Forbidden, NotFound, RateLimited, Unavailable, field_error


def not_found() -> None:
    raise NotFound("sample not found")


def caught_and_dropped() -> bool:
    try:
        not_found()
    except NotFound:
        return False
    return True


def caught_by_a_base_and_raised_again() -> None:
    try:
        not_found()
    except DomainError as exc:
        print(exc)
        raise


def translated() -> None:
    try:
        not_found()
    except NotFound:
        raise Forbidden("not yours") from None


def through_a_factory() -> None:
    raise field_error("name", "too long")


def limit() -> RateLimited | None:
    try:
        raise RateLimited(3)
    except RateLimited as exc:
        return exc


def a_returned_error_raised_later() -> None:
    limited = limit()
    if limited is not None:
        raise limited


def run(fn: Callable[[], None]) -> None:
    fn()


def a_nested_function_handed_over() -> None:
    def txn() -> None:
        raise Conflict("taken")
    run(txn)


class Port(Protocol):
    def send(self) -> None: ...


class Adapter:
    def send(self) -> None:
        raise Unavailable("down")


class Holder:
    port: Port


def through_a_protocol(holder: Holder) -> None:
    holder.port.send()


def make(flag: bool) -> Callable[[], web.StreamResponse]:
    def view() -> web.StreamResponse:
        if flag:
            return web.Response(status=204)
        if not flag:
            raise web.HTTPRequestRangeNotSatisfiable()
        raise NotFound("never: the branches above end the view")
    return view


def responses(partial: bool) -> web.StreamResponse:
    if partial:
        return web.StreamResponse(status=206 if partial else 200)
    return web.Response(status=304)
