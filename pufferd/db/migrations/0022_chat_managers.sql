-- Access (pufferd/access.py): in a channel only the owner and admins see subscribers and read
-- cursors, so a read receipt goes to them (and its author) alone. This index finds a chat's
-- owner and admins without walking its members (chats_q.manager_ids).
CREATE INDEX chat_members_managers ON chat_members(chat_id) WHERE role <> 'member';
