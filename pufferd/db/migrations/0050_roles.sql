-- Server-wide roles (issue 13): owner | admin | moderator | user, replacing users.is_admin.
-- The privileges of each role are fixed in code (pufferd/privileges.py); the database holds
-- only the role. The administrator `pufferd init` created (the lowest-id active admin, else the
-- lowest-id admin) becomes the owner; every other admin stays an admin. Exactly one owner:
-- the partial unique index refuses a second.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
    CHECK (role IN ('owner', 'admin', 'moderator', 'user'));
UPDATE users SET role = 'admin' WHERE is_admin = 1;
UPDATE users SET role = 'owner'
 WHERE id = coalesce((SELECT min(id) FROM users WHERE is_admin = 1 AND is_disabled = 0),
                     (SELECT min(id) FROM users WHERE is_admin = 1));
CREATE UNIQUE INDEX users_one_owner ON users(role) WHERE role = 'owner';
CREATE INDEX users_by_role ON users(role, id);
ALTER TABLE users DROP COLUMN is_admin;
