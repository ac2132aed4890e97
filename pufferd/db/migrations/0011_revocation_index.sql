-- Sign-outs made outside the server process (`pufferd admin reset-password`, `disable-user`) move
-- users.tokens_valid_after; the server polls for newer values (pufferd/accounts.py,
-- watch_revocations) with an index seek instead of a scan of users.
CREATE INDEX users_by_tokens_valid_after ON users(tokens_valid_after);
