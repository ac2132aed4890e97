-- pufferd core schema: the tables every area shares.
-- Times are unix seconds (REAL, UTC). Booleans are INTEGER 0/1. Tables are STRICT.
-- Later migrations take numbers by area so parallel work never collides:
-- 0002 notifications, 0010-0019 accounts, 0020-0029 chats, 0030-0039 messages,
-- 0040-0049 media, 0050-0059 realtime and administration.

CREATE TABLE users (
    id                        INTEGER PRIMARY KEY,
    email                     TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    username                  TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    name                      TEXT    NOT NULL,
    password_hash             TEXT    NOT NULL,
    bio                       TEXT,
    avatar_url                TEXT,
    email_verified            INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    is_admin                  INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_disabled               INTEGER NOT NULL DEFAULT 0 CHECK (is_disabled IN (0, 1)),
    twofa_enabled             INTEGER NOT NULL DEFAULT 0 CHECK (twofa_enabled IN (0, 1)),
    twofa_secret              TEXT,              -- encrypted with a key derived from keys/master.key
    twofa_last_step           INTEGER,           -- last accepted TOTP time step (replay guard)
    allow_private_messages    INTEGER NOT NULL DEFAULT 1 CHECK (allow_private_messages IN (0, 1)),
    privacy_private_messages  TEXT    NOT NULL DEFAULT 'everyone'
                              CHECK (privacy_private_messages IN ('everyone', 'contacts', 'nobody')),
    privacy_last_seen         TEXT    NOT NULL DEFAULT 'everyone'
                              CHECK (privacy_last_seen IN ('everyone', 'contacts', 'nobody')),
    privacy_avatar            TEXT    NOT NULL DEFAULT 'everyone'
                              CHECK (privacy_avatar IN ('everyone', 'contacts', 'nobody')),
    privacy_group_invites     TEXT    NOT NULL DEFAULT 'everyone'
                              CHECK (privacy_group_invites IN ('everyone', 'contacts', 'nobody')),
    tokens_valid_after        REAL    NOT NULL DEFAULT 0,  -- access tokens issued before are refused
    last_seen_at              REAL,
    created_at                REAL    NOT NULL,
    updated_at                REAL    NOT NULL
) STRICT;

-- owner_id lists contact_id among their contacts ("viewer is in target's contacts" = row (target, viewer)).
CREATE TABLE contacts (
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (owner_id, contact_id),
    CHECK (owner_id <> contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX contacts_by_contact ON contacts(contact_id, owner_id);

-- blocker_id blocked blocked_id.
CREATE TABLE blocks (
    blocker_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks(blocked_id, blocker_id);

CREATE TABLE chats (
    id                 INTEGER PRIMARY KEY,
    public_id          TEXT    NOT NULL UNIQUE,            -- random, 24 chars, stable
    type               TEXT    NOT NULL CHECK (type IN ('private', 'group', 'channel')),
    is_saved           INTEGER NOT NULL DEFAULT 0 CHECK (is_saved IN (0, 1)),
    pair_key           TEXT    UNIQUE,                     -- private: 'lo:hi' user ids; saved: 'saved:uid'
    title              TEXT,
    handle             TEXT    COLLATE NOCASE UNIQUE,      -- public groups/channels only
    description        TEXT,
    avatar_url         TEXT,
    is_public          INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    created_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    pinned_message_id  INTEGER,
    invite_token       TEXT    UNIQUE,
    last_message_id    INTEGER,                            -- kept by the messages area
    last_activity_at   REAL    NOT NULL,                   -- creation or newest message time
    created_at         REAL    NOT NULL,
    updated_at         REAL    NOT NULL,
    CHECK (type <> 'private' OR is_public = 0)
) STRICT;

CREATE TABLE chat_members (
    chat_id                    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id                    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role                       TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at                  REAL    NOT NULL,
    archived                   INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    pinned_at                  REAL,               -- non-null: chat pinned in this user's list
    muted                      INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1)),
    hidden                     INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),  -- deleted for me
    cleared_before_id          INTEGER NOT NULL DEFAULT 0,  -- messages with id <= this are hidden for me
    last_delivered_message_id  INTEGER NOT NULL DEFAULT 0,
    last_read_message_id       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX chat_members_by_user ON chat_members(user_id, chat_id);

CREATE TABLE chat_bans (
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    banned_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at REAL    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: ids are never reused, so ids only grow (before_id paging, read cursors).
CREATE TABLE messages (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id                    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    sender_id                  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    type                       TEXT    NOT NULL
                               CHECK (type IN ('text', 'image', 'video', 'audio', 'voice', 'file', 'circle_video')),
    text                       TEXT,
    reply_to_message_id        INTEGER,
    forwarded_from_message_id  INTEGER,
    client_message_id          TEXT,
    created_at                 REAL    NOT NULL,
    updated_at                 REAL    NOT NULL
) STRICT;
CREATE INDEX messages_by_chat ON messages(chat_id, id);
CREATE INDEX messages_by_reply ON messages(reply_to_message_id) WHERE reply_to_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_client_id ON messages(sender_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
