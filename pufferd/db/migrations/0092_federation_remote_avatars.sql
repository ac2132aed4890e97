-- Remote users' avatars are files of this server: the icon of a remote actor document is fetched
-- into the blob store as a file of the shadow user (federation/remote_media.fetch_avatar), and
-- users.avatar_url names that copy, as for a local user; the icon URL itself is kept here, to
-- fetch again only when it changes. An avatar_url pointing at another server made clients fetch
-- it from there (telling that server who looks, or failing under the web client's img-src 'self').
ALTER TABLE federation_actors ADD COLUMN icon_url TEXT;

UPDATE federation_actors
   SET icon_url = (SELECT avatar_url FROM users WHERE users.id = federation_actors.user_id);

-- the copies are made when each actor's document is next stored (its refresh or an Update{Person})
UPDATE users SET avatar_url = NULL WHERE is_remote = 1 AND avatar_url IS NOT NULL;
