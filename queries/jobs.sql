-- name: InsertJob :one
INSERT INTO jobs (owner, keepalive, args, kwargs, request, state, created_at, keepalive_host)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: ListLiveJobs :many
SELECT * FROM jobs WHERE destroyed_at IS NULL ORDER BY id;

-- name: GetJob :one
SELECT * FROM jobs WHERE id = ?;

-- name: AllocateJob :exec
UPDATE jobs
SET state = 2, power = 1, machine_id = sqlc.arg(machine_id),
    chip_width = sqlc.arg(chip_width), chip_height = sqlc.arg(chip_height),
    block_x = sqlc.narg(block_x), block_y = sqlc.narg(block_y),
    block_w = sqlc.narg(block_w), block_h = sqlc.narg(block_h),
    torus = sqlc.arg(torus), allocated_at = sqlc.arg(allocated_at), ready_at = NULL
WHERE id = sqlc.arg(id);

-- name: SetJobPowering :exec
UPDATE jobs SET state = 2, power = sqlc.arg(power), ready_at = NULL WHERE id = sqlc.arg(id);

-- name: SetJobReady :exec
UPDATE jobs SET state = 3, ready_at = sqlc.arg(ready_at) WHERE id = sqlc.arg(id);

-- name: RequeueJob :exec
-- Back to the queue after its boards failed; the id (queue position) stays.
UPDATE jobs
SET state = 1, power = NULL, machine_id = NULL, chip_width = NULL, chip_height = NULL,
    block_x = NULL, block_y = NULL, block_w = NULL, block_h = NULL, torus = NULL,
    allocated_at = NULL, ready_at = NULL
WHERE id = ?;

-- name: DestroyJob :exec
UPDATE jobs SET state = 4, power = NULL, destroy_reason = sqlc.narg(destroy_reason), destroyed_at = sqlc.arg(destroyed_at)
WHERE id = sqlc.arg(id);

-- name: ForgetOldestDestroyed :execrows
-- Retention (retain_destroyed): the oldest answerable destroyed jobs answer
-- "unknown" from now on; their history stays.
UPDATE jobs SET forgotten = 1
WHERE id IN (
    SELECT id FROM jobs WHERE destroyed_at IS NOT NULL AND forgotten = 0
    ORDER BY destroyed_at, id LIMIT sqlc.arg(count)
);

-- name: CountAnswerableDestroyed :one
SELECT count(*) FROM jobs WHERE destroyed_at IS NOT NULL AND forgotten = 0;

-- name: SetKeepaliveHost :exec
-- The address of the job's last client (written when it changes).
UPDATE jobs SET keepalive_host = sqlc.arg(keepalive_host) WHERE id = sqlc.arg(id) AND destroyed_at IS NULL;

-- name: ListQueuedSince :many
-- When each queued job entered the queues: its last history entry (created
-- or re-queued).
SELECT e.job_id, CAST(max(e.at) AS REAL) AS since
FROM job_events e JOIN jobs j ON j.id = e.job_id
WHERE j.state = 1
GROUP BY e.job_id;

-- name: InsertJobEvent :exec
INSERT INTO job_events (job_id, at, state, power, machine_id, detail) VALUES (?, ?, ?, ?, ?, ?);

-- name: ListQueueEntries :many
SELECT machine_id, job_id FROM job_queue ORDER BY machine_id, job_id;

-- name: InsertQueueEntry :exec
INSERT INTO job_queue (machine_id, job_id) VALUES (?, ?);

-- name: DeleteQueueEntry :exec
DELETE FROM job_queue WHERE machine_id = ? AND job_id = ?;

