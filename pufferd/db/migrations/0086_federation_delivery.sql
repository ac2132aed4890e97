-- Signatures accepted by the inbox while their Date is within the skew window
-- (pufferd/federation/inbox.py): the same signed request is refused a second time, also after
-- a restart. Rows expire with the window and are pruned on insert.
CREATE TABLE federation_signatures (
    digest      BLOB NOT NULL PRIMARY KEY,
    expires_at  REAL NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX federation_signatures_expiry ON federation_signatures(expires_at);

-- Remote hosts whose deliveries fail (pufferd/federation/delivery.py): failing_since is the first
-- failure after the last success; down_at is set once it failed for federation_host_down_after
-- hours, and cleared by a delivery that succeeds or a signed request from the host.
CREATE TABLE federation_hosts (
    host           TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    failing_since  REAL,
    down_at        REAL,
    last_error     TEXT,
    updated_at     REAL NOT NULL
) STRICT, WITHOUT ROWID;
