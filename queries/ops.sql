-- name: InsertOp :one
INSERT INTO bmp_ops (bmp_id, board_id, job_id, op, link, created_at) VALUES (?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: SupersedeOpenOpsOfBoard :exec
-- A power request wins over every unclaimed older request for the board.
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'superseded'
WHERE board_id = sqlc.arg(board_id) AND done_at IS NULL AND claimed_at IS NULL;

-- name: ListClaimableOps :many
-- Open, unclaimed operations of the BMPs of a JSON array of BMP ids, oldest
-- first, except those of boards that have an operation in flight: it must
-- finish before a later one for the same board is handed out.
SELECT o.id, o.bmp_id, o.board_id, o.job_id, o.op, o.link, b.x, b.y, b.z, b.board_num
FROM bmp_ops o JOIN boards b ON b.id = o.board_id
WHERE o.bmp_id IN (SELECT value FROM json_each(sqlc.arg(bmp_ids)))
  AND o.done_at IS NULL AND o.claimed_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM bmp_ops c
      WHERE c.board_id = o.board_id AND c.done_at IS NULL AND c.claimed_at IS NOT NULL)
ORDER BY o.id;

-- name: BMPHasUnclaimedOps :one
SELECT EXISTS (SELECT 1 FROM bmp_ops WHERE bmp_id = ? AND done_at IS NULL AND claimed_at IS NULL);

-- name: ClaimOps :exec
-- Claims the operations of a JSON array of ids.
UPDATE bmp_ops SET claimed_at = sqlc.arg(claimed_at), attempts = attempts + 1
WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids)));

-- name: FinishOp :exec
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = sqlc.arg(outcome), last_error = sqlc.narg(last_error)
WHERE id = sqlc.arg(id);

-- name: CountOpenOpsOfJob :one
-- Open operations of a job on the boards it still holds: while there are
-- any, the job is in state power.
SELECT count(*) FROM bmp_ops o JOIN boards b ON b.id = o.board_id
WHERE o.job_id = sqlc.arg(job_id) AND o.done_at IS NULL AND b.job_id = sqlc.arg(job_id);

-- name: BoardHasClaimedOp :one
SELECT EXISTS (SELECT 1 FROM bmp_ops WHERE board_id = ? AND done_at IS NULL AND claimed_at IS NOT NULL);

-- name: UnclaimAllOps :execrows
-- Operations claimed by a worker of a previous run are redone.
UPDATE bmp_ops SET claimed_at = NULL WHERE done_at IS NULL AND claimed_at IS NOT NULL;

-- name: MoveOpenOpsOfBoard :exec
UPDATE bmp_ops SET board_id = sqlc.arg(new_board_id), bmp_id = sqlc.arg(new_bmp_id)
WHERE board_id = sqlc.arg(old_board_id) AND done_at IS NULL;

-- name: ListBoardsWithOpenOps :many
-- Boards of a machine that still have operations to carry out.
SELECT DISTINCT o.board_id FROM bmp_ops o JOIN boards b ON b.id = o.board_id
WHERE b.machine_id = ? AND o.done_at IS NULL;

-- name: SupersedeOpenOpsOfBoards :exec
-- A power request for these boards (a JSON array of board ids) wins over
-- every unclaimed older request for them.
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'superseded'
WHERE board_id IN (SELECT value FROM json_each(sqlc.arg(board_ids)))
  AND done_at IS NULL AND claimed_at IS NULL;

-- name: InsertOps :exec
-- One operation per item of a JSON array of [bmp_id, board_id, link or null],
-- in array order.
INSERT INTO bmp_ops (bmp_id, board_id, job_id, op, link, created_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), sqlc.narg(job_id), sqlc.arg(op),
       json_extract(value, '$[2]'), sqlc.arg(created_at)
FROM json_each(sqlc.arg(items))
ORDER BY key;

-- name: GetOps :many
SELECT * FROM bmp_ops WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids)));

-- name: FinishOpsOK :exec
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'ok'
WHERE id IN (SELECT value FROM json_each(sqlc.arg(ids))) AND done_at IS NULL;

-- name: SupersedeOpenLinkOp :exec
-- A link request wins over an unclaimed older request for the same link.
UPDATE bmp_ops SET done_at = sqlc.arg(done_at), outcome = 'superseded'
WHERE board_id = sqlc.arg(board_id) AND link = sqlc.arg(link) AND done_at IS NULL AND claimed_at IS NULL;
