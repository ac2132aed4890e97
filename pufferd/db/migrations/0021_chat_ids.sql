-- Chat and membership ids are never reused: chats.id is a plain INTEGER PRIMARY KEY (SQLite would
-- hand out max(id) + 1 again after the newest chat is deleted), so the highest id ever deleted is
-- remembered here and chats_q allocates max(highest live id, highest deleted id) + 1.
CREATE TABLE id_watermarks (
    name  TEXT    PRIMARY KEY,
    hw    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO id_watermarks(name, hw) VALUES ('chats', 0), ('chat_members', 0);

CREATE TRIGGER chats_id_watermark AFTER DELETE ON chats BEGIN
    UPDATE id_watermarks SET hw = max(hw, old.id) WHERE name = 'chats';
END;

CREATE TRIGGER chat_members_id_watermark AFTER DELETE ON chat_members WHEN old.id IS NOT NULL BEGIN
    UPDATE id_watermarks SET hw = max(hw, old.id) WHERE name = 'chat_members';
END;
