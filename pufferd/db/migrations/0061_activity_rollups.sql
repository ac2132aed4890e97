-- Active users per UTC ISO week and per UTC month (issue 13, item 6): counting the distinct users
-- of a month from activity_days walked every day row of that month (~ users x 30); these tables
-- hold one row per user per week / month, kept by a trigger when a user's first activity of a day
-- is recorded, so a week's or a month's count is one index range of at most one row per user.
--   week  = (day + 3) / 7: weeks since Monday 1969-12-29 (day 0, 1970-01-01, was a Thursday)
--   month = year * 12 + month - 1
CREATE TABLE activity_weeks (
    week     INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    PRIMARY KEY (week, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE activity_months (
    month    INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    PRIMARY KEY (month, user_id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER activity_days_rollup AFTER INSERT ON activity_days BEGIN
    INSERT OR IGNORE INTO activity_weeks(week, user_id) VALUES ((NEW.day + 3) / 7, NEW.user_id);
    INSERT OR IGNORE INTO activity_months(month, user_id)
        VALUES (CAST(strftime('%Y', NEW.day * 86400, 'unixepoch') AS INTEGER) * 12
                + CAST(strftime('%m', NEW.day * 86400, 'unixepoch') AS INTEGER) - 1, NEW.user_id);
END;

INSERT OR IGNORE INTO activity_weeks(week, user_id) SELECT DISTINCT (day + 3) / 7, user_id FROM activity_days;
INSERT OR IGNORE INTO activity_months(month, user_id)
    SELECT DISTINCT CAST(strftime('%Y', day * 86400, 'unixepoch') AS INTEGER) * 12
                    + CAST(strftime('%m', day * 86400, 'unixepoch') AS INTEGER) - 1, user_id
      FROM activity_days;
