-- Wrong 2FA codes per account (README "Accounts"): the per-IP login limit does not stop a
-- password holder who spreads guesses over many addresses, so wrong codes are also counted per
-- user; twofa_max_failures of them within twofa_lockout_seconds lock 2FA sign-in for that long.
CREATE TABLE twofa_failures (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    failures      INTEGER NOT NULL CHECK (failures >= 0),  -- wrong codes since first_at
    first_at      REAL    NOT NULL,
    locked_until  REAL                                       -- set: every code refused until then
) STRICT;
