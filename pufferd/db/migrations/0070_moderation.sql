-- Moderation (issue 13, item 3; pufferd/moderation.py, pufferd/reports.py).

-- A server-wide ban keeps the account and everything it owns; while banned_at is set the account
-- cannot sign in nor use a token. A timeout lets its user read but not post, edit, react, upload,
-- create chats or invite until timeout_until (pufferd/access.py); it ends by itself: a
-- timeout_until in the past is no timeout, nothing has to clear it. Who did it: the audit log.
ALTER TABLE users ADD COLUMN banned_at REAL;
ALTER TABLE users ADD COLUMN ban_reason TEXT;
ALTER TABLE users ADD COLUMN timeout_until REAL;
ALTER TABLE users ADD COLUMN timeout_reason TEXT;
CREATE INDEX users_banned ON users(id) WHERE banned_at IS NOT NULL;
CREATE INDEX users_timed_out ON users(id) WHERE timeout_until IS NOT NULL;

-- A report of a message or a user by a user, and how a moderator resolved it. `target` names
-- what was reported ('message:<id>', 'user:<id>'): one person has at most one open report of a
-- target. A message report keeps the message as it was reported (type, text, time), so the
-- evidence outlives an edit or a deletion; message_id and chat_id are plain ids (message ids
-- are never reused: AUTOINCREMENT), so deleting messages never touches this table.
CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    reporter_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    target              TEXT    NOT NULL,
    target_type         TEXT    NOT NULL CHECK (target_type IN ('message', 'user')),
    reported_user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,  -- the user, or the message's author
    message_id          INTEGER,
    chat_id             INTEGER,
    message_type        TEXT,
    message_text        TEXT,
    message_created_at  REAL,
    category            TEXT    NOT NULL CHECK (category IN ('spam', 'harassment', 'hate', 'violence',
                                                             'sexual', 'illegal', 'impersonation', 'other')),
    description         TEXT,
    state               TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'dismissed')),
    action              TEXT    CHECK (action IN ('dismiss', 'delete', 'timeout', 'ban')),
    resolution_reason   TEXT,
    timeout_until       REAL,
    resolved_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    resolved_at         REAL,
    created_at          REAL    NOT NULL,
    CHECK ((state = 'open') = (action IS NULL)),
    CHECK ((target_type = 'message') = (message_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX reports_one_open ON reports(reporter_id, target) WHERE state = 'open';
-- the queue, newest first: by state, by type, by both
CREATE INDEX reports_by_state ON reports(state, id);
CREATE INDEX reports_by_type ON reports(target_type, id);
CREATE INDEX reports_by_state_type ON reports(state, target_type, id);
-- a reporter's own reports; every open report of a target (resolved together)
CREATE INDEX reports_by_reporter ON reports(reporter_id, id);
CREATE INDEX reports_by_target ON reports(target, state);
CREATE INDEX reports_by_reported_user ON reports(reported_user_id) WHERE reported_user_id IS NOT NULL;
CREATE INDEX reports_by_resolver ON reports(resolved_by) WHERE resolved_by IS NOT NULL;
