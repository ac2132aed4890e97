"""The Context handed to domain functions: every port they may use, passed explicitly."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pufferd.authcache import AuthCache
from pufferd.blobs import BlobStore
from pufferd.clock import Clock
from pufferd.config import Settings
from pufferd.db.database import Database
from pufferd.federation.state import Federation
from pufferd.keys import Keys
from pufferd.limiter import Limiter
from pufferd.livesettings import LiveSettings
from pufferd.mail import Mailer, MailTasks
from pufferd.monitor import Monitor
from pufferd.netblocks import BlockList
from pufferd.passwords import PasswordHasher
from pufferd.periodic import Board
from pufferd.realtime.bus import Bus
from pufferd.realtime.presence import Presence


@dataclass
class Hooks:
    """Callbacks a lower layer exposes for a higher one to fill (e.g. closing sockets on revoke)."""

    # called with (user id, AT, SESSION) when sign-ins end (realtime closes sockets, 4001):
    # SESSION None: all that user's sessions, tokens issued before AT (None: now) stop counting;
    # SESSION given: that one session of the user (signed out, or refresh-token reuse detected)
    sessions_revoked: list[Callable[[int, float | None, str | None], None]] = field(default_factory=list)
    # called with (blocker id, blocked id) after a block is stored (voice ends their private call)
    blocked: list[Callable[[int, int], None]] = field(default_factory=list)

    def revoke_sessions(self, user_id: int, at: float | None = None, *, session: str | None = None) -> None:
        for fn in list(self.sessions_revoked):
            fn(user_id, at, session)


@dataclass
class Context:
    settings: Settings  # the settings in effect: live.current (changed in place at run time)
    db: Database
    clock: Clock
    keys: Keys
    bus: Bus
    hasher: PasswordHasher
    limiter: Limiter
    presence: Presence
    blobs: BlobStore
    live: LiveSettings  # configured settings, database overrides (pufferd/livesettings.py)
    hooks: Hooks = field(default_factory=Hooks)
    mailer: Mailer | None = None  # make_context sets it; without one, sending mail is a 503
    mail_tasks: MailTasks = field(default_factory=MailTasks)  # mail sent after the answer (pufferd/mail.py)
    auth_cache: AuthCache = field(default_factory=AuthCache.disabled)  # make_context sets the real one
    ip_blocks: BlockList = field(default_factory=BlockList)  # active IP blocks (pufferd/ipblocks.py)
    tasks: Board = field(default_factory=Board)  # background jobs, listed and run by pufferd.tasks
    monitor: Monitor = field(default_factory=Monitor)  # event-loop lag, activity, uptime
    federation: Federation = field(default_factory=Federation)  # pufferd/federation/state.py
