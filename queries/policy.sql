-- Facility policy (service/admin_drain.go, admin_audit.go, job_limits.go,
-- machine_report.go): drained machines, the audit log, problem reports
-- counted against the sick-board rule.

-- name: ListDrains :many
SELECT * FROM machine_drains ORDER BY machine;

-- name: SetDrain :exec
INSERT INTO machine_drains (machine, reason, drained_at, drained_by) VALUES (?, ?, ?, ?)
ON CONFLICT (machine) DO UPDATE
SET reason = excluded.reason, drained_at = excluded.drained_at, drained_by = excluded.drained_by;

-- name: DeleteDrain :exec
DELETE FROM machine_drains WHERE machine = ?;

-- name: InsertAuditEntry :exec
INSERT INTO audit_log (at, actor, from_addr, action, target, machine, job_id, board_x, board_y, board_z, reason)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: CountAuditEntries :one
SELECT count(*) FROM audit_log
WHERE (sqlc.narg(since_at) IS NULL OR at >= sqlc.narg(since_at))
  AND (sqlc.narg(until_at) IS NULL OR at <= sqlc.narg(until_at))
  AND (sqlc.narg(actor) IS NULL OR actor = sqlc.narg(actor))
  AND (sqlc.narg(machine) IS NULL OR machine = sqlc.narg(machine))
  AND (sqlc.narg(job_id) IS NULL OR job_id = sqlc.narg(job_id))
  AND (sqlc.narg(action) IS NULL OR action = sqlc.narg(action))
  AND (sqlc.narg(board_x) IS NULL OR (board_x = sqlc.narg(board_x) AND board_y = sqlc.narg(board_y) AND board_z = sqlc.narg(board_z)));

-- name: ListAuditEntries :many
-- Newest first.
SELECT * FROM audit_log
WHERE (sqlc.narg(since_at) IS NULL OR at >= sqlc.narg(since_at))
  AND (sqlc.narg(until_at) IS NULL OR at <= sqlc.narg(until_at))
  AND (sqlc.narg(actor) IS NULL OR actor = sqlc.narg(actor))
  AND (sqlc.narg(machine) IS NULL OR machine = sqlc.narg(machine))
  AND (sqlc.narg(job_id) IS NULL OR job_id = sqlc.narg(job_id))
  AND (sqlc.narg(action) IS NULL OR action = sqlc.narg(action))
  AND (sqlc.narg(board_x) IS NULL OR (board_x = sqlc.narg(board_x) AND board_y = sqlc.narg(board_y) AND board_z = sqlc.narg(board_z)))
ORDER BY id DESC
LIMIT sqlc.arg(lim) OFFSET sqlc.arg(off);

-- name: RecentBoardReports :many
-- The newest lim problem reports of a board filed at or after since and
-- after it was last returned to service, newest first.
SELECT r.id, r.chip_x, r.chip_y, r.core, r.description, r.reporter, r.reported_at
FROM board_reports r JOIN boards b ON b.id = r.board_id
WHERE r.board_id = sqlc.arg(board_id) AND r.reported_at >= sqlc.arg(since_at)
  AND (b.returned_at IS NULL OR r.reported_at > b.returned_at)
ORDER BY r.reported_at DESC, r.id DESC
LIMIT sqlc.arg(lim);
