-- Analytics (issue 13, item 6): counters and rollups that the charts read instead of scanning
-- messages. Triggers keep them in the same transaction as the event (a message, a user or a chat
-- inserted, a file stored), so they cannot drift or be forgotten by a code path; the migration
-- backfills them from the rows that exist.

-- Events per UTC hour: metric in ('registrations', 'messages', 'chats_created'); hour is unix
-- seconds / 3600, floored. Only hours with events have a row. Counts are of events: a message
-- deleted later still counts as sent in its hour.
CREATE TABLE stats_hourly (
    metric  TEXT    NOT NULL,
    hour    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (metric, hour)
) STRICT, WITHOUT ROWID;

-- Running totals: 'messages_sent' (ever, for the /metrics counter) and of what exists now:
-- 'users', 'messages', 'chats:<type>', 'files:<mime type>' and
-- 'bytes:<mime type>' (stored uploads, as uploaded), 'blobs' and 'blob_bytes' (distinct contents
-- on disk, after deduplication).
CREATE TABLE stats_totals (
    name   TEXT    PRIMARY KEY,
    value  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Who was active on which UTC day (day = unix seconds / 86400): an authenticated request, a
-- WebSocket connect or a message sent. pufferd/analytics.py writes a row at most once per user
-- per hour (INSERT OR IGNORE), from memory. Not a foreign key: counts outlive deleted accounts.
CREATE TABLE activity_days (
    day      INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) STRICT, WITHOUT ROWID;

-- Each user's latest activity (to the hour): "active in the last 24 h / 7 d / 30 d" is one
-- range count over the index.
CREATE TABLE activity_last (
    user_id  INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    at       REAL    NOT NULL
) STRICT;
CREATE INDEX activity_last_by_time ON activity_last(at);

-- upkeep ----------------------------------------------------------------------------------------

CREATE TRIGGER stats_messages_insert AFTER INSERT ON messages BEGIN
    INSERT INTO stats_hourly(metric, hour, n) VALUES ('messages', CAST(NEW.created_at / 3600 AS INTEGER), 1)
        ON CONFLICT (metric, hour) DO UPDATE SET n = n + 1;
    UPDATE stats_totals SET value = value + 1 WHERE name IN ('messages', 'messages_sent');
    INSERT OR IGNORE INTO activity_days(day, user_id)
        SELECT CAST(NEW.created_at / 86400 AS INTEGER), NEW.sender_id WHERE NEW.sender_id IS NOT NULL;
END;

CREATE TRIGGER stats_messages_delete AFTER DELETE ON messages BEGIN
    UPDATE stats_totals SET value = value - 1 WHERE name = 'messages';
END;

CREATE TRIGGER stats_users_insert AFTER INSERT ON users BEGIN
    INSERT INTO stats_hourly(metric, hour, n) VALUES ('registrations', CAST(NEW.created_at / 3600 AS INTEGER), 1)
        ON CONFLICT (metric, hour) DO UPDATE SET n = n + 1;
    UPDATE stats_totals SET value = value + 1 WHERE name = 'users';
END;

CREATE TRIGGER stats_users_delete AFTER DELETE ON users BEGIN
    UPDATE stats_totals SET value = value - 1 WHERE name = 'users';
END;

CREATE TRIGGER stats_chats_insert AFTER INSERT ON chats BEGIN
    INSERT INTO stats_hourly(metric, hour, n) VALUES ('chats_created', CAST(NEW.created_at / 3600 AS INTEGER), 1)
        ON CONFLICT (metric, hour) DO UPDATE SET n = n + 1;
    INSERT INTO stats_totals(name, value) VALUES ('chats:' || NEW.type, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1;
END;

CREATE TRIGGER stats_chats_delete AFTER DELETE ON chats BEGIN
    UPDATE stats_totals SET value = value - 1 WHERE name = 'chats:' || OLD.type;
END;

-- an object counts once it is stored (its sha256 is set, see 0040) until its row goes
CREATE TRIGGER stats_media_stored AFTER UPDATE OF sha256 ON media_objects
WHEN OLD.sha256 IS NULL AND NEW.sha256 IS NOT NULL
BEGIN
    INSERT INTO stats_totals(name, value) VALUES ('files:' || NEW.file_type, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1;
    INSERT INTO stats_totals(name, value) VALUES ('bytes:' || NEW.file_type, NEW.file_size)
        ON CONFLICT (name) DO UPDATE SET value = value + NEW.file_size;
END;

CREATE TRIGGER stats_media_deleted AFTER DELETE ON media_objects WHEN OLD.sha256 IS NOT NULL BEGIN
    UPDATE stats_totals SET value = value - 1 WHERE name = 'files:' || OLD.file_type;
    UPDATE stats_totals SET value = value - OLD.file_size WHERE name = 'bytes:' || OLD.file_type;
END;

CREATE TRIGGER stats_blobs_insert AFTER INSERT ON media_blobs BEGIN
    UPDATE stats_totals SET value = value + 1 WHERE name = 'blobs';
    UPDATE stats_totals SET value = value + NEW.size WHERE name = 'blob_bytes';
END;

CREATE TRIGGER stats_blobs_delete AFTER DELETE ON media_blobs BEGIN
    UPDATE stats_totals SET value = value - 1 WHERE name = 'blobs';
    UPDATE stats_totals SET value = value - OLD.size WHERE name = 'blob_bytes';
END;

-- backfill --------------------------------------------------------------------------------------

INSERT INTO stats_hourly(metric, hour, n)
    SELECT 'messages', CAST(created_at / 3600 AS INTEGER), count(*) FROM messages GROUP BY 2;
INSERT INTO stats_hourly(metric, hour, n)
    SELECT 'registrations', CAST(created_at / 3600 AS INTEGER), count(*) FROM users GROUP BY 2;
INSERT INTO stats_hourly(metric, hour, n)
    SELECT 'chats_created', CAST(created_at / 3600 AS INTEGER), count(*) FROM chats GROUP BY 2;

INSERT INTO stats_totals(name, value) VALUES
    ('users', (SELECT count(*) FROM users)),
    ('messages', (SELECT count(*) FROM messages)),
    ('messages_sent', (SELECT count(*) FROM messages)),
    ('chats:private', (SELECT count(*) FROM chats WHERE type = 'private')),
    ('chats:group', (SELECT count(*) FROM chats WHERE type = 'group')),
    ('chats:channel', (SELECT count(*) FROM chats WHERE type = 'channel')),
    ('blobs', (SELECT count(*) FROM media_blobs)),
    ('blob_bytes', (SELECT coalesce(sum(size), 0) FROM media_blobs));
INSERT INTO stats_totals(name, value)
    SELECT 'files:' || file_type, count(*) FROM media_objects WHERE sha256 IS NOT NULL GROUP BY file_type;
INSERT INTO stats_totals(name, value)
    SELECT 'bytes:' || file_type, sum(file_size) FROM media_objects WHERE sha256 IS NOT NULL GROUP BY file_type;

INSERT OR IGNORE INTO activity_days(day, user_id)
    SELECT DISTINCT CAST(created_at / 86400 AS INTEGER), sender_id FROM messages WHERE sender_id IS NOT NULL;
INSERT INTO activity_last(user_id, at)
    SELECT id, max(at) FROM (
        SELECT id, last_seen_at AS at FROM users WHERE last_seen_at IS NOT NULL
        UNION ALL
        SELECT sender_id, max(created_at) FROM messages WHERE sender_id IS NOT NULL GROUP BY sender_id)
     GROUP BY id;

-- the file lists of /api/v1/cdn page newest first
CREATE INDEX media_objects_by_created ON media_objects(created_at, object_key);
CREATE INDEX media_objects_by_uploader_created ON media_objects(uploader_id, created_at, object_key);
