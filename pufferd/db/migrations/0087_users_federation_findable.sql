-- A user's choice to be findable from other servers by handle (WebFinger, README "Federation");
-- off: acct:user@server_name and the actor URL as a WebFinger resource answer 404.
ALTER TABLE users ADD COLUMN federation_findable INTEGER NOT NULL DEFAULT 1 CHECK (federation_findable IN (0, 1));
