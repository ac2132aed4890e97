-- Chats area (API reference 3.3, 7): membership ids, and the indexes the chat queries need.

-- ChatMemberRead has an "id" of its own (API reference 3.3). chat_members is WITHOUT ROWID, so the
-- id is an ordinary column, allocated by chats_q.add_member as max(id) + 1 through the unique index
-- below (ids grow and are never reused, see 0021; the single writer thread makes this race-free).
ALTER TABLE chat_members ADD COLUMN id INTEGER;
UPDATE chat_members SET id = r.n
  FROM (SELECT chat_id, user_id,
               row_number() OVER (ORDER BY joined_at, chat_id, user_id) AS n
          FROM chat_members) AS r
 WHERE r.chat_id = chat_members.chat_id AND r.user_id = chat_members.user_id;
CREATE UNIQUE INDEX chat_members_id ON chat_members(id);

-- Discovery lists public chats only.
CREATE INDEX chats_public ON chats(last_activity_at) WHERE is_public = 1;

-- Foreign-key actions on user deletion look these up (ON DELETE CASCADE / SET NULL).
CREATE INDEX chat_bans_by_user ON chat_bans(user_id);
CREATE INDEX chats_by_creator ON chats(created_by) WHERE created_by IS NOT NULL;
