-- Keys of actors that are not users (pufferd/federation/actors.py): today the instance actor,
-- which signs our outgoing GETs (servers with "authorized fetch" refuse unsigned ones). Kept out
-- of users, so no row of it shows in user lists, search or counts. The private key is sealed
-- like a user's (federation_keys), with a key derived for this table.
CREATE TABLE federation_server_keys (
    name                TEXT    NOT NULL PRIMARY KEY,
    public_key_pem      TEXT    NOT NULL,
    private_key_sealed  TEXT    NOT NULL,
    created_at          REAL    NOT NULL
) STRICT, WITHOUT ROWID;
