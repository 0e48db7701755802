-- bmp_ops holds the open operations: a row is deleted when its outcome is
-- recorded (migrations/00018). Claims are kept in memory only
-- (service/bmpop_claim.go).

-- name: MoveOpenOpsOfBoard :exec
UPDATE bmp_ops SET board_id = sqlc.arg(new_board_id), bmp_id = sqlc.arg(new_bmp_id)
WHERE board_id = sqlc.arg(old_board_id);

-- name: InsertOps :execresult
-- One operation per item of a JSON array of integers, in array order: the
-- rows get consecutive ids, the last one the result's last insert id. An
-- item packs board id + BMP id << 26 + links mask (0 = none) << 52 + kind
-- << 58 (service.opItems; kinds in the order of service.opKinds): plain
-- integers are read without parsing JSON again per field, which was a
-- fifth of the statement's cost.
INSERT INTO bmp_ops (bmp_id, board_id, job_id, op, links, created_at)
SELECT (value >> 26) & 67108863, value & 67108863, sqlc.narg(job_id),
       CASE (value >> 58) & 3 WHEN 0 THEN 'power_on' WHEN 1 THEN 'power_off' WHEN 2 THEN 'link_off' ELSE 'link_on' END,
       nullif((value >> 52) & 63, 0), sqlc.arg(created_at)
FROM json_each(sqlc.arg(items))
ORDER BY key;

-- name: DeleteOps :exec
-- These operations (a JSON array of ids) are over: done, failed, or
-- superseded by a newer request.
DELETE FROM bmp_ops WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids)));

-- name: ListOpenOps :many
-- Open operations with where they go, oldest first (the committed world).
SELECT o.id, o.bmp_id, o.board_id, o.job_id, o.op, o.links, b.x, b.y, b.z, b.board_num
FROM bmp_ops o JOIN boards b ON b.id = o.board_id
ORDER BY o.id;
