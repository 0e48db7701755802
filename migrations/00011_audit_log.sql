-- Who did what: one row per change made through the admin API (and per
-- board the server took out of service by itself after problem reports).
-- Rows are never changed or deleted. machine, job_id and the board
-- coordinates locate the target for the audit filters; target says it in
-- words.

-- +goose Up
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL    NOT NULL,
    actor     TEXT    NOT NULL,    -- the admin token's name; "server" for what it did by itself
    from_addr TEXT,                -- the client's address
    action    TEXT    NOT NULL,    -- e.g. destroy_job, board_out_of_service, drain
    target    TEXT    NOT NULL,    -- e.g. "job 12", "board (1, 0, 2) of spinn-24"
    machine   TEXT,                -- machine name, when the target is on one
    job_id    INTEGER REFERENCES jobs(id),
    board_x   INTEGER,
    board_y   INTEGER,
    board_z   INTEGER,
    reason    TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_machine ON audit_log(machine, id) WHERE machine IS NOT NULL;
CREATE INDEX audit_log_job ON audit_log(job_id) WHERE job_id IS NOT NULL;

-- +goose Down
DROP TABLE audit_log;
