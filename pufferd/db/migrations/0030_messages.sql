-- Messages area (API reference 3.4, 3.6, 8, 10, 11): forwards, reactions and full-text search.

-- The author shown on a forwarded message: the original author when the forward was made with
-- include_author=true, NULL when it was made without (the forwarder then stands as the author).
ALTER TABLE messages ADD COLUMN forward_sender_id INTEGER REFERENCES users(id) ON DELETE SET NULL;

-- One row per (message, emoji, user): toggling removes the row again.
CREATE TABLE message_reactions (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji       TEXT    NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_reactions_by_user ON message_reactions(message_id, user_id);

-- Full-text search over message text. External content: the text is stored once (in messages),
-- the index holds only tokens. unicode61 with remove_diacritics 2 folds case and accents
-- ("Café" matches "cafe"); the prefix indexes make "hel*" queries cheap.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content='messages', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
    INSERT INTO messages_fts(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
END;

-- Global search (API reference 11): user names and usernames, chat titles and handles.
CREATE VIRTUAL TABLE users_fts USING fts5(
    username, name, content='users', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3'
);
INSERT INTO users_fts(rowid, username, name) SELECT id, username, name FROM users;

CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts(rowid, username, name) VALUES (new.id, new.username, new.name);
END;

CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts(users_fts, rowid, username, name) VALUES ('delete', old.id, old.username, old.name);
END;

CREATE TRIGGER users_fts_update AFTER UPDATE OF username, name ON users BEGIN
    INSERT INTO users_fts(users_fts, rowid, username, name) VALUES ('delete', old.id, old.username, old.name);
    INSERT INTO users_fts(rowid, username, name) VALUES (new.id, new.username, new.name);
END;

CREATE VIRTUAL TABLE chats_fts USING fts5(
    title, handle, content='chats', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3'
);
INSERT INTO chats_fts(rowid, title, handle) SELECT id, title, handle FROM chats;

CREATE TRIGGER chats_fts_insert AFTER INSERT ON chats BEGIN
    INSERT INTO chats_fts(rowid, title, handle) VALUES (new.id, new.title, new.handle);
END;

CREATE TRIGGER chats_fts_delete AFTER DELETE ON chats BEGIN
    INSERT INTO chats_fts(chats_fts, rowid, title, handle) VALUES ('delete', old.id, old.title, old.handle);
END;

CREATE TRIGGER chats_fts_update AFTER UPDATE OF title, handle ON chats BEGIN
    INSERT INTO chats_fts(chats_fts, rowid, title, handle) VALUES ('delete', old.id, old.title, old.handle);
    INSERT INTO chats_fts(rowid, title, handle) VALUES (new.id, new.title, new.handle);
END;
