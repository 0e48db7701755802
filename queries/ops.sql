-- bmp_ops holds the open operations (migrations/00018), a row for the
-- boards of one BMP in one request (migrations/00019): an operation's bit is
-- cleared when its outcome is recorded, and the row goes with its last bit.
-- The view bmp_board_ops shows one operation per board, with the ids the
-- service uses. Claims are kept in memory only (service/bmpop_claim.go).

-- name: InsertOps :execresult
-- One row per item of a JSON array of integers, in array order: the rows
-- get consecutive ids, the last one the result's last insert id. An item
-- packs the boards mask (bit n = board_num n) + links mask (0 = none) << 32
-- + kind << 38 + BMP id << 40 (service.opItems; kinds in the order of
-- service.opKinds): plain integers are read without parsing JSON again per
-- field, which was a fifth of the statement's cost.
INSERT INTO bmp_ops (bmp_id, boards, job_id, op, links, created_at)
SELECT value >> 40, value & 4294967295, sqlc.narg(job_id),
       CASE (value >> 38) & 3 WHEN 0 THEN 'power_on' WHEN 1 THEN 'power_off' WHEN 2 THEN 'link_off' ELSE 'link_on' END,
       nullif((value >> 32) & 63, 0), sqlc.arg(created_at)
FROM json_each(sqlc.arg(items))
ORDER BY key;

-- name: DeleteOps :exec
-- Every operation of these rows (a JSON array of row ids) is over: done,
-- failed, or superseded by a newer request.
DELETE FROM bmp_ops WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids)));

-- name: SetOpBoards :exec
-- Some operations of these rows are over: each item of the JSON array packs
-- the row id << 32 + the mask of the boards whose operations are still open.
UPDATE bmp_ops SET boards = (SELECT i.value & 4294967295 FROM json_each(sqlc.arg(items)) i WHERE i.value >> 32 = bmp_ops.id)
WHERE id IN (SELECT value >> 32 FROM json_each(sqlc.arg(items)));

-- name: ListOpenOps :many
-- Open operations with where they go, oldest first (the committed world).
SELECT o.id, o.bmp_id, o.board_id, o.job_id, o.op, o.links, b.x, b.y, b.z, b.board_num
FROM bmp_board_ops o JOIN boards b ON b.id = o.board_id
ORDER BY o.id;
