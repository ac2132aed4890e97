-- The version (the Note's `updated` time) of each remote Note last applied to its message
-- (pufferd/federation/inbox.py): deliveries are not ordered, so an older Update arriving after a
-- newer one must change nothing.
CREATE TABLE federation_notes (
    note_id     TEXT    NOT NULL PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    version     REAL    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX federation_notes_by_message ON federation_notes(message_id);
