"""Federation (issue 15, README "Federation"): ActivityPub identity, signatures, remote users,
the delivery queue, the inbox, direct messages and follows.

Remote activity is mapped onto the domain functions local users go through (pufferd/chats.py,
pufferd/messages.py): a remote person is a local shadow user, so access rules, blocks, privacy,
realtime events, notifications and search apply to them unchanged.
"""
