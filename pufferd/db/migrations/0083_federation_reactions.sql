-- Reactions that crossed servers (issue 15; pufferd/federation/reactions.py): the id of the Like
-- (or EmojiReact) activity of each reaction we sent or received, so that an Undo names the
-- reaction it takes back. A row goes with its message or its user.
CREATE TABLE federation_reactions (
    activity_id  TEXT    NOT NULL PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji        TEXT    NOT NULL,
    created_at   REAL    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX federation_reactions_by_reaction ON federation_reactions(message_id, user_id, emoji);
