-- One bmp_ops row holds the operations of one request on several boards of
-- the same BMP: `boards` is a mask, bit n for the board with board_num n in
-- the BMP's frame (board numbers are 0 to 31, service/config). A job's
-- power-on, its power-off and its link changes took one row per board
-- (some 40 rows per job); one per BMP, kind and links mask takes a few,
-- and a BMP's power command takes such a mask too.
--
-- The service still sees one operation per board: its id is the row id
-- times 32 plus the board number (row id << 5 | board_num), so ids stay
-- unique, never reused (AUTOINCREMENT) and in request order. An operation
-- that ends clears its bit; the row goes with its last bit. board_id is
-- gone: the BMP and the board number name the board (index boards_bmp).
-- The view bmp_board_ops shows the rows one board at a time, as the
-- service sees them.
--
-- SQLite cannot drop a NOT NULL column with a foreign key in place, so the
-- table is rebuilt; row ids and the AUTOINCREMENT sequence are kept (also
-- when no operation is open, so that ids are never handed out twice).

-- +goose Up
CREATE INDEX boards_bmp ON boards(bmp_id, board_num);

CREATE TABLE bmp_ops_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bmp_id     INTEGER NOT NULL REFERENCES bmps(id),
    boards     INTEGER NOT NULL CHECK (boards BETWEEN 1 AND 4294967295),  -- bit n = board_num n, open ones only
    job_id     INTEGER REFERENCES jobs(id),
    op         TEXT    NOT NULL CHECK (op IN ('power_on', 'power_off', 'link_off', 'link_on')),
    links      INTEGER CHECK (links BETWEEN 1 AND 63),  -- link operations: bit l = link l
    created_at REAL    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    CHECK ((op IN ('link_off', 'link_on')) = (links IS NOT NULL))
);
INSERT INTO bmp_ops_new (id, bmp_id, boards, job_id, op, links, created_at, attempts, last_error)
SELECT o.id, o.bmp_id, 1 << b.board_num, o.job_id, o.op, o.links, o.created_at, o.attempts, o.last_error
FROM bmp_ops o JOIN boards b ON b.id = o.board_id;
DELETE FROM sqlite_sequence WHERE name = 'bmp_ops_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'bmp_ops_new', seq FROM sqlite_sequence WHERE name = 'bmp_ops';
DROP TABLE bmp_ops;
ALTER TABLE bmp_ops_new RENAME TO bmp_ops;

CREATE VIEW bmp_board_ops AS
SELECT CAST((o.id << 5) | b.board_num AS INTEGER) AS id, o.id AS row_id, o.bmp_id, b.id AS board_id, o.job_id, o.op, o.links,
       o.created_at, o.attempts, o.last_error
FROM bmp_ops o JOIN boards b ON b.bmp_id = o.bmp_id AND (o.boards >> b.board_num) & 1 = 1;

-- +goose Down
-- Back to one row per board, in the order of the operations' ids; rows get
-- new ids after every id handed out so far.
DROP VIEW bmp_board_ops;
CREATE TABLE bmp_ops_old (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bmp_id     INTEGER NOT NULL REFERENCES bmps(id),
    board_id   INTEGER NOT NULL REFERENCES boards(id),
    job_id     INTEGER REFERENCES jobs(id),
    op         TEXT    NOT NULL CHECK (op IN ('power_on', 'power_off', 'link_off', 'link_on')),
    links      INTEGER CHECK (links BETWEEN 1 AND 63),
    created_at REAL    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    CHECK ((op IN ('link_off', 'link_on')) = (links IS NOT NULL))
);
DELETE FROM sqlite_sequence WHERE name = 'bmp_ops_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'bmp_ops_old', seq FROM sqlite_sequence WHERE name = 'bmp_ops';
INSERT INTO bmp_ops_old (bmp_id, board_id, job_id, op, links, created_at, attempts, last_error)
SELECT o.bmp_id, b.id, o.job_id, o.op, o.links, o.created_at, o.attempts, o.last_error
FROM bmp_ops o JOIN boards b ON b.bmp_id = o.bmp_id AND (o.boards >> b.board_num) & 1 = 1
ORDER BY o.id, b.board_num;
DROP TABLE bmp_ops;
ALTER TABLE bmp_ops_old RENAME TO bmp_ops;
DROP INDEX boards_bmp;
