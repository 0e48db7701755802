-- Drained machines: a drained machine takes no new allocations, its running
-- jobs continue and its queue waits. Keyed by the machine's name, so that a
-- drain outlives a change of the machine's layout (which re-creates the
-- machine row); removing the machine from the configuration ends it.

-- +goose Up
CREATE TABLE machine_drains (
    machine    TEXT PRIMARY KEY,   -- machines.name of the live machine
    reason     TEXT NOT NULL,
    drained_at REAL NOT NULL,
    drained_by TEXT NOT NULL       -- the admin token's name
) WITHOUT ROWID;

-- +goose Down
DROP TABLE machine_drains;
