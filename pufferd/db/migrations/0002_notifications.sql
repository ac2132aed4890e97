-- Notifications (API reference 3.6, 10): one row per user to be told about an event.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event_type  TEXT    NOT NULL,
    payload     TEXT    NOT NULL,   -- a JSON object, e.g. {"chat_id": 10, "message_id": 100}
    chat_id     INTEGER,            -- for cleanup when a chat goes
    message_id  INTEGER,            -- for cleanup when a message is deleted for all
    created_at  REAL    NOT NULL
) STRICT;
CREATE INDEX notifications_by_user ON notifications(user_id, id);
CREATE INDEX notifications_by_message ON notifications(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX notifications_by_chat ON notifications(chat_id) WHERE chat_id IS NOT NULL;
