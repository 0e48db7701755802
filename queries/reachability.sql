-- name: SetBMPUnreachable :exec
-- Marks a BMP unreachable; the time it was first found so is kept.
UPDATE bmps
SET unreachable_since = coalesce(unreachable_since, sqlc.arg(since)), last_error = sqlc.narg(last_error)
WHERE id = sqlc.arg(id);

-- name: SetBMPReachable :exec
-- The last error stays, for operators.
UPDATE bmps SET unreachable_since = NULL WHERE id = ?;

-- name: GetBMPReachability :one
SELECT unreachable_since, last_error FROM bmps WHERE id = ?;

-- name: ListBMPReachability :many
-- The BMPs of live machines with their reachability (consistency check).
SELECT b.id, b.unreachable_since FROM bmps b JOIN machines m ON m.id = b.machine_id
WHERE m.retired_at IS NULL ORDER BY b.id;

-- name: ListPoweringJobsOnBMP :many
-- Jobs that wait for an operation of this BMP on a board they hold.
SELECT DISTINCT o.job_id FROM bmp_ops o JOIN boards b ON b.id = o.board_id
WHERE o.bmp_id = ? AND o.done_at IS NULL AND o.job_id IS NOT NULL AND b.job_id = o.job_id
ORDER BY o.job_id;
