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

