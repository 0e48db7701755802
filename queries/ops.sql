-- Claims are kept in memory only (service/bmpop_claim.go); an operation's
-- attempts are counted when its outcome is recorded.

-- name: FinishOp :exec
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = sqlc.arg(outcome), last_error = sqlc.narg(last_error),
    attempts = attempts + 1
WHERE id = sqlc.arg(id);

-- name: MoveOpenOpsOfBoard :exec
UPDATE bmp_ops SET board_id = sqlc.arg(new_board_id), bmp_id = sqlc.arg(new_bmp_id)
WHERE board_id = sqlc.arg(old_board_id) AND done_at IS NULL;

-- name: InsertOps :execresult
-- One operation per item of a JSON array of integers, in array order: the
-- rows get consecutive ids, the last one the result's last insert id. An
-- item packs board id + BMP id << 26 + links mask (0 = none) << 52
-- (service.opItems): plain integers are read without parsing JSON again
-- per field, which was a fifth of the statement's cost.
INSERT INTO bmp_ops (bmp_id, board_id, job_id, op, links, created_at)
SELECT (value >> 26) & 67108863, value & 67108863, sqlc.narg(job_id), sqlc.arg(op),
       nullif(value >> 52, 0), sqlc.arg(created_at)
FROM json_each(sqlc.arg(items))
ORDER BY key;

-- name: GetOps :many
SELECT * FROM bmp_ops WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids)));

-- name: FinishOpsOK :exec
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'ok', attempts = attempts + 1
WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids))) AND done_at IS NULL;

-- name: SupersedeOps :exec
-- A newer request wins over these open operations (a JSON array of ids).
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'superseded'
WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids))) AND done_at IS NULL;

-- name: ListOpenOps :many
-- Open operations with where they go, oldest first (the committed world).
SELECT o.id, o.bmp_id, o.board_id, o.job_id, o.op, o.links, b.x, b.y, b.z, b.board_num
FROM bmp_ops o JOIN boards b ON b.id = o.board_id
WHERE o.done_at IS NULL
ORDER BY o.id;
