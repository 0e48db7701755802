-- Operator reads and writes (service/admin*.go): the HTTP admin API and
-- the dashboard.

-- name: AdminGetJob :one
SELECT j.*, m.name AS machine_name FROM jobs j LEFT JOIN machines m ON m.id = j.machine_id
WHERE j.id = ? AND j.forgotten = 0;

-- name: AdminJobEvents :many
SELECT e.at, e.state, e.power, e.detail, m.name AS machine_name
FROM job_events e LEFT JOIN machines m ON m.id = e.machine_id
WHERE e.job_id = ?
ORDER BY e.id;

-- name: AdminOpenOps :many
-- Open BMP operations with where they go, oldest first; job_id 0 = all.
SELECT o.id, o.job_id, o.op, o.links, o.created_at, o.attempts, o.last_error,
       b.x, b.y, b.z, b.board_num, p.cabinet, p.frame, m.name AS machine_name
FROM bmp_board_ops o
JOIN boards b ON b.id = o.board_id
JOIN bmps p ON p.id = o.bmp_id
JOIN machines m ON m.id = b.machine_id
WHERE (sqlc.arg(job_id) = 0 OR o.job_id = sqlc.arg(job_id))
ORDER BY o.id;

-- name: AdminReportsPerBoard :many
SELECT r.board_id, count(*) AS n FROM board_reports r JOIN boards b ON b.id = r.board_id
WHERE b.machine_id = ?
GROUP BY r.board_id;

-- name: AdminBoardHistory :many
-- Allocations of the board at (x, y, z) of every machine that had this name
-- (a re-created machine keeps its history), newest first.
SELECT a.job_id, j.owner, a.allocated_at, a.freed_at
FROM board_allocations a
JOIN boards b ON b.id = a.board_id
JOIN machines m ON m.id = b.machine_id
JOIN jobs j ON j.id = a.job_id
WHERE m.name = sqlc.arg(machine) AND b.x = sqlc.arg(x) AND b.y = sqlc.arg(y) AND b.z = sqlc.arg(z)
ORDER BY a.allocated_at DESC, a.id DESC;

-- name: AdminBoardReports :many
-- Problem reports filed against the board at (x, y, z) of every machine that
-- had this name, newest first.
SELECT r.id, r.ip, r.job_id, r.chip_x, r.chip_y, r.core, r.description, r.reporter, r.reported_at
FROM board_reports r
JOIN boards b ON b.id = r.board_id
JOIN machines m ON m.id = b.machine_id
WHERE m.name = sqlc.arg(machine) AND b.x = sqlc.arg(x) AND b.y = sqlc.arg(y) AND b.z = sqlc.arg(z)
ORDER BY r.reported_at DESC, r.id DESC;

-- name: AdminJobsByState :many
SELECT state, count(*) AS n FROM jobs WHERE forgotten = 0 GROUP BY state;

-- name: AdminSetOutOfService :exec
-- An operator takes a board out of service: unlike a BMP failure, a job
-- holding the board keeps it.
UPDATE boards SET out_of_service = sqlc.arg(out_of_service), out_of_service_at = sqlc.arg(out_of_service_at),
    out_of_service_by = sqlc.arg(out_of_service_by)
WHERE id = sqlc.arg(id);

-- name: AdminDeleteDeadLink :exec
DELETE FROM dead_links WHERE board_id = ? AND link = ?;

-- name: AdminPing :one
SELECT 1;

-- name: AdminBoardNotes :many
-- What the board map needs from the rows beyond the in-memory state: when
-- the power last changed, the last BMP error, and when and by whom it was
-- taken out of service (boards with none of these are left out).
SELECT id, power_changed_at, last_error, out_of_service_at, out_of_service_by FROM boards
WHERE machine_id = ? AND (power_changed_at IS NOT NULL OR last_error IS NOT NULL OR out_of_service_at IS NOT NULL);
