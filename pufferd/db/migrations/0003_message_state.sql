-- Per-message state that chats, messages and media all read: mentions (unread mention counts in
-- ChatRead), messages hidden for one user (delete for me), and attachments (MessageRead's
-- attachment_waveform, the chat attachment list). Owned by the messages and media areas.

CREATE TABLE message_mentions (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_mentions_by_user ON message_mentions(user_id, chat_id, message_id);

-- "delete for me": the message stays for everyone else
CREATE TABLE message_hidden (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_hidden_by_chat ON message_hidden(user_id, chat_id, message_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    chat_id      INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    uploader_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    object_key   TEXT    NOT NULL,          -- uploads/....ext, see the media area
    file_type    TEXT    NOT NULL,
    file_size    INTEGER NOT NULL CHECK (file_size >= 0),
    waveform     TEXT,                      -- JSON array of small integers, or NULL
    created_at   REAL    NOT NULL
) STRICT;
CREATE INDEX attachments_by_message ON attachments(message_id);
CREATE INDEX attachments_by_chat ON attachments(chat_id, id);
CREATE INDEX attachments_by_key ON attachments(object_key);
