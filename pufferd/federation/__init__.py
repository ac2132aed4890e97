"""Federation (issue 15, README "Federation"): ActivityPub identity, signatures, remote users,
the delivery queue, the inbox, direct messages and follows.

Remote activity is mapped onto the domain functions local users go through (pufferd/chats.py,
pufferd/messages.py): a remote person is a local shadow user, so access rules, blocks, privacy,
realtime events, notifications and search apply to them unchanged.
"""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pufferd.context import Context


def outgoing_if_enabled(ctx: Context) -> ModuleType | None:
    """pufferd.federation.outgoing while federation is on, imported by its first use (issue 17);
    None while it is off: a server that does not federate never loads the outgoing side."""
    if not ctx.settings.federation_enabled:
        return None
    from pufferd.federation import outgoing as module

    return module
