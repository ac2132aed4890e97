-- 2FA recovery codes (README "Accounts"): when 2FA is turned on the user gets ten one-time codes,
-- each usable once instead of a TOTP code (at login, or to turn 2FA off) when the authenticator
-- is lost. Only an HMAC-SHA256 of a code is stored, under a key derived from keys/master.key and
-- bound to the user id, so a copy of the database alone does not give the codes away.
CREATE TABLE twofa_recovery_codes (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    created_at  REAL    NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
