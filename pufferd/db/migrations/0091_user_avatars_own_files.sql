-- A user's avatar refers to a stored object only when that user uploaded it. The API always asked
-- this of local users (media.check_avatar_url_txn), but a remote user's avatar_url is the icon URL
-- of its actor document, stored as sent: an icon naming this server's bucket
-- (https://any.host/media/bucket/uploads/<name>) made the object of that name, whose key the
-- remote server may know from a file sent to it, the avatar of its shadow user: downloadable by
-- everyone who sees that avatar (access.visible_file) and refused deletion by its uploader.
-- A remote user's own objects are the files fetched from its server (federation/remote_media.py).

DROP TRIGGER users_avatar_ref_insert;
DROP TRIGGER users_avatar_ref_update;

CREATE TRIGGER users_avatar_ref_insert AFTER INSERT ON users
WHEN instr(NEW.avatar_url, '/media/bucket/uploads/') > 0
BEGIN
    INSERT OR IGNORE INTO media_avatar_refs(object_key, user_id)
    SELECT object_key, NEW.id FROM media_objects
     WHERE object_key = substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14)
       AND state = 'stored' AND uploader_id = NEW.id;
END;

CREATE TRIGGER users_avatar_ref_update AFTER UPDATE OF avatar_url ON users
WHEN NEW.avatar_url IS NOT OLD.avatar_url
BEGIN
    DELETE FROM media_avatar_refs
     WHERE user_id = NEW.id
       AND object_key IS NOT substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14);
    INSERT OR IGNORE INTO media_avatar_refs(object_key, user_id)
    SELECT object_key, NEW.id FROM media_objects
     WHERE instr(NEW.avatar_url, '/media/bucket/uploads/') > 0
       AND object_key = substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14)
       AND state = 'stored' AND uploader_id = NEW.id;
END;

-- references made that way before: gone (the shadow user keeps the icon URL as text; it names
-- nothing here). The object itself stays when a message still holds it (media_avatar_refs_release).
DELETE FROM media_avatar_refs
 WHERE user_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM media_objects o
                    WHERE o.object_key = media_avatar_refs.object_key AND o.uploader_id = media_avatar_refs.user_id);
