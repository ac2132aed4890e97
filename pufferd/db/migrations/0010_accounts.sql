-- Accounts (API reference 5, 6; DESIGN.md "Security"): refresh sessions with rotation and theft
-- detection, revoked access tokens, single-use e-mail tokens, the audit log, the user-name index.

-- One row per login ("session family"). id is the jti of the family's first refresh token; access
-- tokens issued with the session carry it as their `sid` claim, so revoking the row stops them too.
CREATE TABLE auth_sessions (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    current_jti   TEXT    NOT NULL,          -- the newest refresh token of the family
    ip_address    TEXT,
    user_agent    TEXT,
    created_at    REAL    NOT NULL,
    last_used_at  REAL    NOT NULL,
    expires_at    REAL    NOT NULL,          -- expiry of the newest refresh token
    revoked_at    REAL,                      -- non-null: every token of the family is refused
    revoke_reason TEXT    CHECK (revoke_reason IN ('logout', 'logout_all', 'password_reset',
                                                   'reuse_detected', 'admin'))
) STRICT, WITHOUT ROWID;
CREATE INDEX auth_sessions_by_user ON auth_sessions(user_id, created_at);

-- Every refresh token ever issued, until its family expires. A token presented again after it
-- was rotated (rotated_at non-null) was stolen or replayed: its whole family is revoked.
CREATE TABLE refresh_tokens (
    jti         TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    issued_at   REAL NOT NULL,
    rotated_at  REAL
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);

-- Access tokens revoked one by one (DELETE /auth/sessions/{jti} of the synthetic access session),
-- kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti         TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at  REAL NOT NULL
) STRICT, WITHOUT ROWID;

-- E-mail verification and password-reset tokens: only a SHA-256 of the secret is stored;
-- a row is deleted when used, so each token works once.
CREATE TABLE account_tokens (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  REAL    NOT NULL,
    expires_at  REAL    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX account_tokens_by_user ON account_tokens(user_id, purpose);

-- Security-relevant events, append-only (the triggers refuse UPDATE and DELETE).
-- user_id is the account concerned; it is not a foreign key so entries outlive their user.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  REAL    NOT NULL,
    event       TEXT    NOT NULL,
    user_id     INTEGER,
    actor       TEXT    NOT NULL,            -- 'user:<id>', 'anonymous' or 'cli'
    ip_address  TEXT,
    user_agent  TEXT,
    detail      TEXT                         -- a JSON object, never a secret
) STRICT;
CREATE INDEX audit_log_by_user ON audit_log(user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_by_event ON audit_log(event, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- user search: prefix match on the display name (username has its UNIQUE NOCASE index)
CREATE INDEX users_by_name ON users(name COLLATE NOCASE);
