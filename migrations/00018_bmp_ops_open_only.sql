-- bmp_ops keeps the open operations only: an operation's row is deleted in
-- the transaction that records its outcome (done, superseded or failed).
-- Nothing ever read the rows of finished operations, yet they were the
-- largest table (some 40 rows per job, kept forever) and every outcome
-- rewrote its row and the partial index of open rows. What an outcome
-- changes is kept where it is read: a board's power and when it changed, a
-- board taken out of service with the error, a BMP's reachability, the
-- job's history in job_events. The AUTOINCREMENT sequence stays, so an
-- operation id is never handed out twice (a late outcome for a finished
-- operation cannot land on a new one).
--
-- The partial indexes of jobs name destroyed_at instead of state (the
-- table's CHECK makes state = 4 and destroyed_at IS NOT NULL the same):
-- SQLite rewrites a partial index whenever an UPDATE sets a column its
-- WHERE names, and a live job's state changes two or three times while
-- destroyed_at is set once.

-- +goose Up
DELETE FROM bmp_ops WHERE done_at IS NOT NULL;
DROP INDEX bmp_ops_open;
ALTER TABLE bmp_ops DROP COLUMN done_at;
ALTER TABLE bmp_ops DROP COLUMN outcome;

DROP INDEX jobs_live;
DROP INDEX jobs_answerable;
CREATE INDEX jobs_live ON jobs(id) WHERE destroyed_at IS NULL;
CREATE INDEX jobs_answerable ON jobs(destroyed_at, id) WHERE destroyed_at IS NOT NULL AND forgotten = 0;

-- +goose Down
DROP INDEX jobs_live;
DROP INDEX jobs_answerable;
CREATE INDEX jobs_live ON jobs(id) WHERE state < 4;
CREATE INDEX jobs_answerable ON jobs(destroyed_at, id) WHERE state = 4 AND forgotten = 0;

ALTER TABLE bmp_ops ADD COLUMN done_at REAL;
ALTER TABLE bmp_ops ADD COLUMN outcome TEXT CHECK (outcome IN ('ok', 'failed', 'superseded'));
CREATE INDEX bmp_ops_open ON bmp_ops(id) WHERE done_at IS NULL;
