-- The reservation rule of the "reserve" scheduling policy: the head of a
-- machine's queue that cannot be placed holds a region of triads that no
-- other job may enter while it waits. The region is chosen once, when the
-- job becomes the blocked head, and its guarantee depends on that choice,
-- so it is stored: a restart finds the same region. At most one per
-- machine; written in the transaction that chooses or forgets it.

-- +goose Up
CREATE TABLE reservations (
    machine_id  INTEGER PRIMARY KEY REFERENCES machines(id),
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    x           INTEGER NOT NULL CHECK (x >= 0),  -- bottom-left triad
    y           INTEGER NOT NULL CHECK (y >= 0),
    w           INTEGER NOT NULL CHECK (w > 0),   -- size in triads
    h           INTEGER NOT NULL CHECK (h > 0),
    reserved_at REAL    NOT NULL
);

-- +goose Down
DROP TABLE reservations;
