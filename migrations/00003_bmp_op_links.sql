-- A link operation switches a set of links of one board (a bit mask, bit l
-- for link l, 0 east .. 5 south) instead of one link: disabling the
-- periphery of an allocation takes one row per board, not one per link.
-- SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt; ids (and so the AUTOINCREMENT sequence) are kept.

-- +goose Up
CREATE TABLE bmp_ops_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bmp_id     INTEGER NOT NULL REFERENCES bmps(id),
    board_id   INTEGER NOT NULL REFERENCES boards(id),
    job_id     INTEGER REFERENCES jobs(id),
    op         TEXT    NOT NULL CHECK (op IN ('power_on', 'power_off', 'link_off', 'link_on')),
    links      INTEGER CHECK (links BETWEEN 1 AND 63),  -- link operations: bit l = link l
    created_at REAL    NOT NULL,
    claimed_at REAL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at    REAL,
    outcome    TEXT    CHECK (outcome IN ('ok', 'failed', 'superseded')),
    CHECK ((op IN ('link_off', 'link_on')) = (links IS NOT NULL))
);
INSERT INTO bmp_ops_new (id, bmp_id, board_id, job_id, op, links, created_at, claimed_at, attempts, last_error, done_at, outcome)
SELECT id, bmp_id, board_id, job_id, op, CASE WHEN link IS NULL THEN NULL ELSE 1 << link END,
       created_at, claimed_at, attempts, last_error, done_at, outcome
FROM bmp_ops;
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'bmp_ops') WHERE name = 'bmp_ops_new';
DROP TABLE bmp_ops;
ALTER TABLE bmp_ops_new RENAME TO bmp_ops;
CREATE INDEX bmp_ops_open ON bmp_ops(bmp_id, id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_job ON bmp_ops(job_id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_board ON bmp_ops(board_id) WHERE done_at IS NULL;

-- +goose Down
-- Back to one row per link: a row keeps its id for its lowest link; its
-- other links get rows with new ids.
CREATE TABLE bmp_ops_old (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bmp_id     INTEGER NOT NULL REFERENCES bmps(id),
    board_id   INTEGER NOT NULL REFERENCES boards(id),
    job_id     INTEGER REFERENCES jobs(id),
    op         TEXT    NOT NULL CHECK (op IN ('power_on', 'power_off', 'link_off', 'link_on')),
    link       INTEGER CHECK (link BETWEEN 0 AND 5),
    created_at REAL    NOT NULL,
    claimed_at REAL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at    REAL,
    outcome    TEXT    CHECK (outcome IN ('ok', 'failed', 'superseded')),
    CHECK ((op IN ('link_off', 'link_on')) = (link IS NOT NULL))
);
INSERT INTO bmp_ops_old (id, bmp_id, board_id, job_id, op, link, created_at, claimed_at, attempts, last_error, done_at, outcome)
SELECT o.id, o.bmp_id, o.board_id, o.job_id, o.op,
       (SELECT min(l.value) FROM json_each('[0,1,2,3,4,5]') l WHERE o.links & (1 << l.value)),
       o.created_at, o.claimed_at, o.attempts, o.last_error, o.done_at, o.outcome
FROM bmp_ops o;
INSERT INTO bmp_ops_old (bmp_id, board_id, job_id, op, link, created_at, claimed_at, attempts, last_error, done_at, outcome)
SELECT o.bmp_id, o.board_id, o.job_id, o.op, l.value, o.created_at, o.claimed_at, o.attempts, o.last_error, o.done_at, o.outcome
FROM bmp_ops o JOIN json_each('[0,1,2,3,4,5]') l ON o.links & (1 << l.value)
WHERE l.value > (SELECT min(m.value) FROM json_each('[0,1,2,3,4,5]') m WHERE o.links & (1 << m.value))
ORDER BY o.id, l.value;
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'bmp_ops')) WHERE name = 'bmp_ops_old';
DROP TABLE bmp_ops;
ALTER TABLE bmp_ops_old RENAME TO bmp_ops;
CREATE INDEX bmp_ops_open ON bmp_ops(bmp_id, id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_job ON bmp_ops(job_id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_board ON bmp_ops(board_id) WHERE done_at IS NULL;
