-- Administration over the API (issue 13): settings changed at run time, server invite codes,
-- IP blocks, and what the audit log needs to be filtered and paged.

-- A setting changed over the API; applied over flags, environment and pufferd.toml
-- (pufferd/livesettings.py). `value` is the setting as JSON.
CREATE TABLE settings_overrides (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at  REAL    NOT NULL,
    updated_by  INTEGER REFERENCES users(id) ON DELETE SET NULL
) STRICT, WITHOUT ROWID;

-- Server invite codes for registration_mode = 'invite_only' (pufferd/invites.py). Only a hash
-- of the code is kept; the code is shown once, when it is created. A use is a row of
-- server_invite_uses, written in the registration's transaction: an account that is removed
-- again (a rolled-back registration) gives its use back.
CREATE TABLE server_invites (
    id          INTEGER PRIMARY KEY,
    code_hash   TEXT    NOT NULL UNIQUE,
    code_hint   TEXT    NOT NULL,              -- the first characters, to recognise a code
    note        TEXT,
    max_uses    INTEGER CHECK (max_uses IS NULL OR max_uses >= 1),
    expires_at  REAL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  REAL    NOT NULL,
    revoked_at  REAL,
    revoked_by  INTEGER REFERENCES users(id) ON DELETE SET NULL
) STRICT;

CREATE TABLE server_invite_uses (
    invite_id   INTEGER NOT NULL REFERENCES server_invites(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    used_at     REAL    NOT NULL,
    PRIMARY KEY (invite_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX server_invite_uses_by_user ON server_invite_uses(user_id);

-- Blocked addresses and ranges (pufferd/ipblocks.py); `network` is the normalised CIDR form
-- (a single address is /32 or /128). The server keeps the active ones in memory; `attempts`
-- counts refused requests, written in batches.
CREATE TABLE ip_blocks (
    id               INTEGER PRIMARY KEY,
    network          TEXT    NOT NULL UNIQUE,
    reason           TEXT,
    expires_at       REAL,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_attempt_at  REAL,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       REAL    NOT NULL
) STRICT;

-- The audit log names what an action was done to beyond a user (an address block, an invite, a
-- setting): `target`, e.g. 'ip:203.0.113.0/24', 'invite:4', 'settings'. Pages are newest first
-- by (created_at, id), filtered by one of actor, event, user or target, or by time alone.
ALTER TABLE audit_log ADD COLUMN target TEXT;
CREATE INDEX audit_log_by_time ON audit_log(created_at);
CREATE INDEX audit_log_by_actor_time ON audit_log(actor, created_at);
CREATE INDEX audit_log_by_event_time ON audit_log(event, created_at);
CREATE INDEX audit_log_by_user_time ON audit_log(user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_by_target_time ON audit_log(target, created_at) WHERE target IS NOT NULL;
