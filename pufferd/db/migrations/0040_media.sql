-- Media (API reference 3.5 and 9; CONTRACT.md "Uploads"): uploaded objects, the blobs that hold
-- their bytes, and who references them. Blob bytes live in DIR/blobs, encrypted (pufferd/blobs).
--
-- Life of an object (uploads/<token>.<ext>):
--   pending   POST /media/upload-url created it; the signed PUT URL may still be used
--   uploading a PUT is streaming it (reset to pending if that PUT fails or the server restarts)
--   stored    the bytes are in a blob; attached_at stays NULL until an attachment or an avatar
--             first refers to it, and a stored object never attached expires
--             (settings.unattached_upload_ttl_seconds); an attached object lives while anything
--             refers to it and is deleted by the triggers below when the last reference goes.
-- A blob row counts the objects that use it (media_blobs.refs, kept by triggers); the janitor
-- deletes blob files whose count reached 0.

CREATE TABLE media_blobs (
    sha256      TEXT    PRIMARY KEY CHECK (length(sha256) = 64),  -- of the plaintext, hex
    size        INTEGER NOT NULL CHECK (size >= 0),
    refs        INTEGER NOT NULL DEFAULT 0 CHECK (refs >= 0),
    created_at  REAL    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX media_blobs_unreferenced ON media_blobs(created_at) WHERE refs = 0;

CREATE TABLE media_objects (
    object_key         TEXT    PRIMARY KEY,                 -- uploads/<token>.<ext>
    uploader_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    file_name          TEXT    NOT NULL,                    -- as the client named it, for downloads
    file_type          TEXT    NOT NULL,                    -- the MIME type signed into the upload URL
    file_size          INTEGER NOT NULL CHECK (file_size >= 0),
    state              TEXT    NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'uploading', 'stored')),
    sha256             TEXT    REFERENCES media_blobs(sha256),
    upload_expires_at  INTEGER NOT NULL,                    -- unix seconds, signed into the URL
    created_at         REAL    NOT NULL,
    stored_at          REAL,
    attached_at        REAL,                                -- first referenced by an attachment or avatar
    CHECK ((state = 'stored') = (sha256 IS NOT NULL)),
    CHECK (state = 'stored' OR attached_at IS NULL)
) STRICT, WITHOUT ROWID;
CREATE INDEX media_objects_by_blob ON media_objects(sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX media_objects_by_uploader ON media_objects(uploader_id);
CREATE INDEX media_objects_unfinished ON media_objects(upload_expires_at) WHERE state <> 'stored';
CREATE INDEX media_objects_unattached ON media_objects(stored_at)
    WHERE state = 'stored' AND attached_at IS NULL;

-- which user or chat uses an object as its avatar (kept from users/chats.avatar_url by triggers)
CREATE TABLE media_avatar_refs (
    object_key  TEXT    NOT NULL REFERENCES media_objects(object_key) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    chat_id     INTEGER REFERENCES chats(id) ON DELETE CASCADE,
    CHECK ((user_id IS NULL) <> (chat_id IS NULL))
) STRICT;
CREATE UNIQUE INDEX media_avatar_refs_user ON media_avatar_refs(user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX media_avatar_refs_chat ON media_avatar_refs(chat_id) WHERE chat_id IS NOT NULL;
CREATE INDEX media_avatar_refs_by_key ON media_avatar_refs(object_key);

-- one object is attached to a message at most once
CREATE UNIQUE INDEX attachments_message_key ON attachments(message_id, object_key);

-- blob reference counts follow the objects that point at them
CREATE TRIGGER media_objects_blob_ref AFTER UPDATE OF sha256 ON media_objects
WHEN NEW.sha256 IS NOT OLD.sha256
BEGIN
    UPDATE media_blobs SET refs = refs + 1 WHERE sha256 = NEW.sha256;
    UPDATE media_blobs SET refs = refs - 1 WHERE sha256 = OLD.sha256;
END;

CREATE TRIGGER media_objects_blob_unref AFTER DELETE ON media_objects
WHEN OLD.sha256 IS NOT NULL
BEGIN
    UPDATE media_blobs SET refs = refs - 1 WHERE sha256 = OLD.sha256;
END;

-- attachments: the first one marks the object attached; when the last reference of an attached
-- object goes (a message deleted for all cascades here), the object goes and its blob loses a ref
CREATE TRIGGER attachments_mark_attached AFTER INSERT ON attachments
BEGIN
    UPDATE media_objects SET attached_at = NEW.created_at
     WHERE object_key = NEW.object_key AND attached_at IS NULL AND state = 'stored';
END;

CREATE TRIGGER attachments_release AFTER DELETE ON attachments
BEGIN
    DELETE FROM media_objects
     WHERE object_key = OLD.object_key AND attached_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM attachments WHERE object_key = OLD.object_key)
       AND NOT EXISTS (SELECT 1 FROM media_avatar_refs WHERE object_key = OLD.object_key);
END;

CREATE TRIGGER attachments_key_immutable BEFORE UPDATE OF object_key ON attachments
WHEN NEW.object_key IS NOT OLD.object_key
BEGIN
    SELECT RAISE(ABORT, 'attachments.object_key cannot change');
END;

CREATE TRIGGER media_avatar_refs_mark_attached AFTER INSERT ON media_avatar_refs
BEGIN
    UPDATE media_objects SET attached_at = unixepoch('subsec')
     WHERE object_key = NEW.object_key AND attached_at IS NULL AND state = 'stored';
END;

CREATE TRIGGER media_avatar_refs_release AFTER DELETE ON media_avatar_refs
BEGIN
    DELETE FROM media_objects
     WHERE object_key = OLD.object_key AND attached_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM attachments WHERE object_key = OLD.object_key)
       AND NOT EXISTS (SELECT 1 FROM media_avatar_refs WHERE object_key = OLD.object_key);
END;

-- avatars: an avatar_url of this server's bucket (<base>/media/bucket/uploads/<name>) refers to
-- the object uploads/<name>; the new reference is added before the old one is dropped, so
-- re-pointing an avatar at the same object never releases it
CREATE TRIGGER users_avatar_ref_insert AFTER INSERT ON users
WHEN instr(NEW.avatar_url, '/media/bucket/uploads/') > 0
BEGIN
    INSERT OR IGNORE INTO media_avatar_refs(object_key, user_id)
    SELECT object_key, NEW.id FROM media_objects
     WHERE object_key = substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14)
       AND state = 'stored';
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
       AND state = 'stored';
END;

CREATE TRIGGER chats_avatar_ref_insert AFTER INSERT ON chats
WHEN instr(NEW.avatar_url, '/media/bucket/uploads/') > 0
BEGIN
    INSERT OR IGNORE INTO media_avatar_refs(object_key, chat_id)
    SELECT object_key, NEW.id FROM media_objects
     WHERE object_key = substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14)
       AND state = 'stored';
END;

CREATE TRIGGER chats_avatar_ref_update AFTER UPDATE OF avatar_url ON chats
WHEN NEW.avatar_url IS NOT OLD.avatar_url
BEGIN
    DELETE FROM media_avatar_refs
     WHERE chat_id = NEW.id
       AND object_key IS NOT substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14);
    INSERT OR IGNORE INTO media_avatar_refs(object_key, chat_id)
    SELECT object_key, NEW.id FROM media_objects
     WHERE instr(NEW.avatar_url, '/media/bucket/uploads/') > 0
       AND object_key = substr(NEW.avatar_url, instr(NEW.avatar_url, '/media/bucket/uploads/') + 14)
       AND state = 'stored';
END;
