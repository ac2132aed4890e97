-- A remote Note addressed to several users here is stored once per recipient, as a message of
-- each recipient's private chat with its author (pufferd/federation/inbox.py). Until now a Note
-- had one message (client_message_id = the Note id, unique per sender: the second recipient's
-- copy was refused) and federation_notes one row per Note.
--
-- federation_notes now has one row per copy: the Note id, the message, and the version (the
-- Note's `updated` time) last applied to that copy (NULL before any Update with a date).
CREATE TABLE federation_note_copies (
    note_id     TEXT    NOT NULL,
    message_id  INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
    version     REAL,
    PRIMARY KEY (note_id, message_id)
) STRICT, WITHOUT ROWID;

INSERT INTO federation_note_copies(note_id, message_id, version)
SELECT m.client_message_id, m.id,
       (SELECT n.version FROM federation_notes n WHERE n.note_id = m.client_message_id)
  FROM messages m JOIN users u ON u.id = m.sender_id AND u.is_remote = 1
 WHERE m.client_message_id IS NOT NULL;

DROP TABLE federation_notes;
ALTER TABLE federation_note_copies RENAME TO federation_notes;

-- A copy's client_message_id is the Note id and its chat (`<note id> chat:<chat id>`), unique
-- per sender as the messages_client_id index requires, and the same on every redelivery.
UPDATE messages SET client_message_id = client_message_id || ' chat:' || chat_id
 WHERE client_message_id IS NOT NULL
   AND sender_id IN (SELECT id FROM users WHERE is_remote = 1);

-- One Like or EmojiReact of a remote Note may land on several copies (one per recipient here):
-- its activity id is kept per message.
CREATE TABLE federation_reactions_new (
    activity_id  TEXT    NOT NULL,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji        TEXT    NOT NULL,
    created_at   REAL    NOT NULL,
    PRIMARY KEY (activity_id, message_id)
) STRICT, WITHOUT ROWID;
INSERT INTO federation_reactions_new(activity_id, message_id, user_id, emoji, created_at)
SELECT activity_id, message_id, user_id, emoji, created_at FROM federation_reactions;
DROP TABLE federation_reactions;
ALTER TABLE federation_reactions_new RENAME TO federation_reactions;
CREATE INDEX federation_reactions_by_reaction ON federation_reactions(message_id, user_id, emoji);
