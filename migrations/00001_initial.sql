-- The spallocd schema. Times are Unix seconds (REAL, UTC). Rows of machines,
-- boards and jobs are never deleted while history refers to them: a removed
-- or re-created machine is retired, a forgotten destroyed job is marked.

-- +goose Up
CREATE TABLE machines (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL,
    priority          INTEGER NOT NULL,          -- position in the configuration, 0 first
    width             INTEGER NOT NULL CHECK (width > 0),   -- triads
    height            INTEGER NOT NULL CHECK (height > 0),
    major_fingerprint TEXT    NOT NULL,          -- size, positions, addresses: a change re-creates the machine
    minor_fingerprint TEXT    NOT NULL,          -- tags, dead boards and links: a change keeps its jobs
    created_at        REAL    NOT NULL,
    retired_at        REAL                       -- removed or re-created; kept for history
);
CREATE UNIQUE INDEX machines_live_name ON machines(name) WHERE retired_at IS NULL;

CREATE TABLE machine_tags (
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    tag        TEXT    NOT NULL,
    PRIMARY KEY (machine_id, tag)
) WITHOUT ROWID;

CREATE TABLE bmps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    cabinet    INTEGER NOT NULL,
    frame      INTEGER NOT NULL,
    address    TEXT    NOT NULL,                 -- "ip" or "ip:port"
    UNIQUE (machine_id, cabinet, frame)
);

CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    owner          TEXT    NOT NULL,
    keepalive      REAL,                               -- seconds; NULL = never times out
    args           TEXT    NOT NULL,                   -- JSON, as the client sent them
    kwargs         TEXT    NOT NULL,                   -- JSON, as sent, without owner and keepalive
    request        TEXT    NOT NULL,                   -- JSON, the normalised request the allocator uses
    state          INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4),  -- 1 queued, 2 power, 3 ready, 4 destroyed
    power          INTEGER CHECK (power IN (0, 1)),    -- wanted power of its boards while it holds boards
    machine_id     INTEGER REFERENCES machines(id),    -- allocated machine
    chip_width     INTEGER,
    chip_height    INTEGER,
    block_x        INTEGER,                            -- allocated block of triads (NULL for single boards)
    block_y        INTEGER,
    block_w        INTEGER,
    block_h        INTEGER,
    torus          INTEGER,                            -- wrap-around of the allocation: 0 none, 1 x, 2 y, 3 both
    destroy_reason TEXT,
    created_at     REAL    NOT NULL,
    allocated_at   REAL,
    ready_at       REAL,
    destroyed_at   REAL,
    keepalive_host TEXT,
    forgotten      INTEGER NOT NULL DEFAULT 0 CHECK (forgotten IN (0, 1)),  -- pruned by retain_destroyed
    CHECK ((state = 4) = (destroyed_at IS NOT NULL))
);
CREATE INDEX jobs_live ON jobs(id) WHERE state < 4;
-- Retention (retain_destroyed) forgets the oldest answerable destroyed jobs.
CREATE INDEX jobs_answerable ON jobs(destroyed_at, id) WHERE state = 4 AND forgotten = 0;

CREATE TABLE boards (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id       INTEGER NOT NULL REFERENCES machines(id),
    x                INTEGER NOT NULL,
    y                INTEGER NOT NULL,
    z                INTEGER NOT NULL CHECK (z BETWEEN 0 AND 2),
    cabinet          INTEGER,                          -- NULL for a dead board without a position
    frame            INTEGER,
    board_num        INTEGER,
    ip               TEXT,
    bmp_id           INTEGER REFERENCES bmps(id),
    dead             INTEGER NOT NULL DEFAULT 0 CHECK (dead IN (0, 1)),  -- from the configuration
    out_of_service   TEXT,                             -- why (operator or BMP failure); NULL = in service
    out_of_service_at REAL,
    power            INTEGER NOT NULL DEFAULT 0 CHECK (power IN (0, 1)),  -- last state confirmed by the BMP
    power_changed_at REAL,
    job_id           INTEGER REFERENCES jobs(id),      -- live job holding the board
    waiting_job_id   INTEGER REFERENCES jobs(id),      -- ended job whose power-off has not completed yet
    waiting_since    REAL,                             -- when its job let go of it (power-off grace)
    free_at          REAL,                             -- not reusable before this time (free_delay)
    last_error       TEXT,                             -- last BMP error for this board
    UNIQUE (machine_id, x, y, z),
    CHECK (job_id IS NULL OR waiting_job_id IS NULL),
    CHECK ((waiting_job_id IS NULL) = (waiting_since IS NULL))
    -- A board may be dead and held: marking a board dead in the
    -- configuration is a minor change that keeps running jobs.
);
CREATE UNIQUE INDEX boards_slot ON boards(machine_id, cabinet, frame, board_num) WHERE cabinet IS NOT NULL;
CREATE INDEX boards_job ON boards(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX boards_waiting ON boards(waiting_job_id) WHERE waiting_job_id IS NOT NULL;
CREATE INDEX boards_ip ON boards(ip);

CREATE TABLE dead_links (
    board_id INTEGER NOT NULL REFERENCES boards(id),
    link     INTEGER NOT NULL CHECK (link BETWEEN 0 AND 5),  -- 0 east .. 5 south, leaving the board
    source   TEXT    NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'operator')),
    PRIMARY KEY (board_id, link)
) WITHOUT ROWID;

-- A job waiting for boards is queued on every machine that could ever hold
-- it; each machine serves its queue in job id (creation) order.
CREATE TABLE job_queue (
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    job_id     INTEGER NOT NULL REFERENCES jobs(id),
    PRIMARY KEY (machine_id, job_id)
) WITHOUT ROWID;
CREATE INDEX job_queue_job ON job_queue(job_id);

-- History: one row per board per allocation.
CREATE TABLE board_allocations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       INTEGER NOT NULL REFERENCES jobs(id),
    board_id     INTEGER NOT NULL REFERENCES boards(id),
    allocated_at REAL    NOT NULL,
    freed_at     REAL
);
CREATE UNIQUE INDEX board_allocations_open ON board_allocations(board_id) WHERE freed_at IS NULL;
CREATE INDEX board_allocations_job ON board_allocations(job_id);
CREATE INDEX board_allocations_board ON board_allocations(board_id, allocated_at);

-- History: one row per job state change.
CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     INTEGER NOT NULL REFERENCES jobs(id),
    at         REAL    NOT NULL,
    state      INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4),
    power      INTEGER,
    machine_id INTEGER REFERENCES machines(id),
    detail     TEXT                               -- reason, error, what happened
);
CREATE INDEX job_events_job ON job_events(job_id, id);

-- Power and link operations for the BMP workers. A worker claims open rows
-- of its BMP, talks to the BMP with no transaction open, and records the
-- outcome. Rows claimed but not done when the process died are redone.
CREATE TABLE bmp_ops (
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
CREATE INDEX bmp_ops_open ON bmp_ops(bmp_id, id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_job ON bmp_ops(job_id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_board ON bmp_ops(board_id) WHERE done_at IS NULL;

-- Problems users report about boards (the protocol's report_problem).
CREATE TABLE board_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    board_id    INTEGER REFERENCES boards(id),
    ip          TEXT    NOT NULL,
    job_id      INTEGER REFERENCES jobs(id),
    chip_x      INTEGER,
    chip_y      INTEGER,
    core        INTEGER,
    description TEXT    NOT NULL DEFAULT '',
    reporter    TEXT,                              -- client address
    reported_at REAL    NOT NULL
);
CREATE INDEX board_reports_board ON board_reports(board_id);

-- Server-wide switches that must survive a restart (e.g. emergency stop).
CREATE TABLE server_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE server_state;
DROP TABLE board_reports;
DROP TABLE bmp_ops;
DROP TABLE job_events;
DROP TABLE board_allocations;
DROP TABLE job_queue;
DROP TABLE dead_links;
DROP TABLE boards;
DROP TABLE jobs;
DROP TABLE bmps;
DROP TABLE machine_tags;
DROP TABLE machines;
