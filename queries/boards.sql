-- name: CloseBoardAllocationsOfJob :exec
UPDATE board_allocations SET freed_at = sqlc.arg(freed_at)
WHERE job_id = sqlc.arg(job_id) AND freed_at IS NULL;

-- name: FreeBoard :exec
UPDATE boards SET waiting_job_id = NULL, waiting_since = NULL, free_at = NULL WHERE id = ?;

-- name: SetBoardOutOfService :exec
-- Taking a board out of service also ends any claim on it.
UPDATE boards
SET out_of_service = sqlc.arg(out_of_service), out_of_service_at = sqlc.arg(out_of_service_at),
    out_of_service_by = NULL, last_error = coalesce(sqlc.narg(last_error), last_error),
    job_id = NULL, waiting_job_id = NULL, waiting_since = NULL, free_at = NULL
WHERE id = sqlc.arg(id);

-- name: ReturnBoardToService :exec
UPDATE boards SET out_of_service = NULL, out_of_service_at = NULL, out_of_service_by = NULL,
    returned_at = sqlc.arg(returned_at)
WHERE id = sqlc.arg(id);

-- name: CarryBoardState :exec
-- Carries a physical board's state over to its row in a re-created machine.
UPDATE boards
SET power = sqlc.arg(power), power_changed_at = sqlc.arg(power_changed_at),
    out_of_service = sqlc.arg(out_of_service), out_of_service_at = sqlc.arg(out_of_service_at),
    last_error = sqlc.arg(last_error),
    waiting_job_id = sqlc.arg(waiting_job_id), waiting_since = sqlc.arg(waiting_since), free_at = sqlc.arg(free_at)
WHERE id = sqlc.arg(id);

-- name: CarryBoardNotes :exec
-- Carries what an operator reads about a physical board (since when and
-- by whom it is out of service, its last BMP error) from its old row to its
-- row in a re-created machine.
UPDATE boards
SET out_of_service_at = coalesce((SELECT o.out_of_service_at FROM boards o WHERE o.id = sqlc.arg(old_id)), out_of_service_at),
    out_of_service_by = (SELECT o.out_of_service_by FROM boards o WHERE o.id = sqlc.arg(old_id)),
    last_error = (SELECT o.last_error FROM boards o WHERE o.id = sqlc.arg(old_id))
WHERE boards.id = sqlc.arg(new_id);

-- name: InsertBoardReport :exec
INSERT INTO board_reports (board_id, ip, job_id, chip_x, chip_y, core, description, reporter, reported_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: AssignBoards :exec
UPDATE boards SET job_id = sqlc.arg(job_id) WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));

-- name: InsertBoardAllocations :exec
INSERT INTO board_allocations (job_id, board_id, allocated_at)
SELECT sqlc.arg(job_id), value, sqlc.arg(allocated_at) FROM json_each(sqlc.arg(board_ids));

-- name: SetBoardsWaiting :exec
-- A job let go of these boards; each returns to the pool once powered off.
UPDATE boards
SET job_id = NULL, waiting_job_id = sqlc.arg(waiting_job_id), waiting_since = sqlc.arg(waiting_since), free_at = NULL
WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));

-- name: SetBoardsPower :exec
UPDATE boards SET power = sqlc.arg(power), power_changed_at = sqlc.arg(power_changed_at)
WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));

-- name: PowerOffAndFreeBoards :exec
-- Boards whose power-off completed and that no job waits for any more.
UPDATE boards
SET power = 0, power_changed_at = sqlc.arg(power_changed_at), waiting_job_id = NULL, waiting_since = NULL, free_at = NULL
WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));

-- name: FreeBoards :exec
UPDATE boards SET waiting_job_id = NULL, waiting_since = NULL, free_at = NULL
WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));

-- name: SetBoardsFreeAt :exec
UPDATE boards SET free_at = sqlc.arg(free_at) WHERE id IN (SELECT value FROM json_each(sqlc.arg(board_ids)));
