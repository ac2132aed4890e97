-- Message search scoped by chat inside the FTS5 index (issue 5, search p99 over 1 M messages).
--
-- With the text alone indexed, "the newest 50 matches in my chats" had to walk every match in
-- every chat and drop the ones in other chats: a common word over 1 M messages cost ~100 ms. Each
-- message now also carries one token naming its chat ("c<chat_id>", a virtual generated column of
-- messages, so nothing more is stored in the table), and a search ANDs the text query with the
-- caller's chat tokens; FTS5 intersects the doclists, skipping through them by rowid.
-- The prefix index of 4 characters makes 4-letter prefixes (common words typed in part) cheap.

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;

ALTER TABLE messages ADD COLUMN fts_chat TEXT GENERATED ALWAYS AS ('c' || chat_id) VIRTUAL;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, fts_chat, content='messages', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3 4'
);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text, fts_chat) VALUES (new.id, new.text, new.fts_chat);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text, fts_chat) VALUES ('delete', old.id, old.text, old.fts_chat);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text, fts_chat) VALUES ('delete', old.id, old.text, old.fts_chat);
    INSERT INTO messages_fts(rowid, text, fts_chat) VALUES (new.id, new.text, new.fts_chat);
END;
