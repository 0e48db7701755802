-- Reads of the operator console (service/admin_console.go): the job list
-- over time, the boards a job had, BMP work per BMP, utilisation history and
-- the last emergency stop.

-- name: ConsoleCountJobs :one
-- Jobs matching the filters of ConsoleListJobs, before paging.
SELECT count(*) FROM jobs j
WHERE j.forgotten = 0
  AND (sqlc.arg(state_mask) & (1 << j.state)) != 0
  AND (sqlc.narg(owner) IS NULL OR j.owner = sqlc.narg(owner))
  AND (sqlc.narg(machine) IS NULL
       OR j.machine_id IN (SELECT m.id FROM machines m WHERE m.name = sqlc.narg(machine))
       OR j.id IN (SELECT q.job_id FROM job_queue q JOIN machines m ON m.id = q.machine_id
                   WHERE m.name = sqlc.narg(machine)))
  AND (sqlc.narg(until_at) IS NULL OR j.created_at <= sqlc.narg(until_at))
  AND (sqlc.narg(since_at) IS NULL OR j.destroyed_at IS NULL OR j.destroyed_at >= sqlc.narg(since_at));

-- name: ConsoleListJobs :many
-- Jobs whose state bit is set in state_mask (bit n = state n), of an owner,
-- allocated on or queued on a machine (by name), that existed at some time
-- between since_at and until_at (created by until_at, not destroyed before
-- since_at); newest first.
SELECT j.*, m.name AS machine_name FROM jobs j LEFT JOIN machines m ON m.id = j.machine_id
WHERE j.forgotten = 0
  AND (sqlc.arg(state_mask) & (1 << j.state)) != 0
  AND (sqlc.narg(owner) IS NULL OR j.owner = sqlc.narg(owner))
  AND (sqlc.narg(machine) IS NULL
       OR j.machine_id IN (SELECT m2.id FROM machines m2 WHERE m2.name = sqlc.narg(machine))
       OR j.id IN (SELECT q.job_id FROM job_queue q JOIN machines m3 ON m3.id = q.machine_id
                   WHERE m3.name = sqlc.narg(machine)))
  AND (sqlc.narg(until_at) IS NULL OR j.created_at <= sqlc.narg(until_at))
  AND (sqlc.narg(since_at) IS NULL OR j.destroyed_at IS NULL OR j.destroyed_at >= sqlc.narg(since_at))
ORDER BY j.id DESC
LIMIT sqlc.arg(lim) OFFSET sqlc.arg(off);

-- name: ConsoleJobAllocations :many
-- Every board a job was given, with its machine (live or retired), in the
-- order they were allocated (a job re-queued after a failed power-on has
-- more than one allocation).
SELECT a.allocated_at, a.freed_at, b.x, b.y, b.z, b.cabinet, b.frame, b.board_num, m.name AS machine_name,
       m.retired_at IS NOT NULL AS retired
FROM board_allocations a
JOIN boards b ON b.id = a.board_id
JOIN machines m ON m.id = b.machine_id
WHERE a.job_id = ?
ORDER BY a.allocated_at, a.id;

-- name: ConsoleOpenOpsPerBMP :many
-- Open BMP operations of each BMP of the live machine called name: how
-- many, the oldest, and how many have failed at least once.
SELECT o.bmp_id, count(*) AS n, CAST(min(o.created_at) AS REAL) AS oldest,
       CAST(sum(o.last_error IS NOT NULL) AS INTEGER) AS failing
FROM bmp_board_ops o
JOIN bmps p ON p.id = o.bmp_id
JOIN machines m ON m.id = p.machine_id
WHERE m.name = sqlc.arg(name) AND m.retired_at IS NULL
GROUP BY o.bmp_id;

-- name: ConsoleAllocationsBetween :many
-- Board allocations on machines called name (every incarnation) that
-- overlap [from_at, to_at): those of live jobs, and of destroyed jobs still
-- kept (retain_destroyed) that ended after from_at. Both job sets are read
-- through their partial indexes, so the cost follows the jobs in the
-- window, not the length of the history.
SELECT a.allocated_at, a.freed_at
FROM board_allocations a
JOIN boards b ON b.id = a.board_id
JOIN machines m ON m.id = b.machine_id
WHERE a.job_id IN (SELECT j.id FROM jobs j WHERE j.destroyed_at IS NULL
                   UNION ALL
                   SELECT j.id FROM jobs j WHERE j.destroyed_at IS NOT NULL AND j.forgotten = 0
                                              AND j.destroyed_at >= sqlc.arg(from_at))
  AND m.name = sqlc.arg(name)
  AND a.allocated_at < sqlc.arg(to_at)
  AND (a.freed_at IS NULL OR a.freed_at > sqlc.arg(from_at));
