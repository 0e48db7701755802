-- name: ListLiveMachines :many
SELECT * FROM machines WHERE retired_at IS NULL ORDER BY priority, id;

-- name: InsertMachine :one
INSERT INTO machines (name, priority, width, height, major_fingerprint, minor_fingerprint, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: RetireMachine :exec
UPDATE machines SET retired_at = sqlc.arg(retired_at) WHERE id = sqlc.arg(id);

-- name: SetMachinePriority :exec
UPDATE machines SET priority = sqlc.arg(priority) WHERE id = sqlc.arg(id);

-- name: SetMachineMinorFingerprint :exec
UPDATE machines SET minor_fingerprint = sqlc.arg(minor_fingerprint) WHERE id = sqlc.arg(id);

-- name: ListMachineTags :many
SELECT tag FROM machine_tags WHERE machine_id = ? ORDER BY tag;

-- name: DeleteMachineTags :exec
DELETE FROM machine_tags WHERE machine_id = ?;

-- name: InsertMachineTag :exec
INSERT INTO machine_tags (machine_id, tag) VALUES (?, ?);

-- name: InsertBMP :one
INSERT INTO bmps (machine_id, cabinet, frame, address) VALUES (?, ?, ?, ?)
RETURNING id;

-- name: ListBMPsOfMachine :many
SELECT * FROM bmps WHERE machine_id = ? ORDER BY cabinet, frame;

-- name: ListServedBMPs :many
-- BMPs a worker must serve: those of live machines, and those of retired
-- machines that still have operations to carry out (power-offs of the boards
-- of a removed machine).
SELECT b.id, m.name AS machine_name, b.cabinet, b.frame, b.address
FROM bmps b JOIN machines m ON m.id = b.machine_id
WHERE m.retired_at IS NULL
   OR EXISTS (SELECT 1 FROM bmp_ops o WHERE o.bmp_id = b.id)
ORDER BY m.retired_at IS NOT NULL, m.priority, b.cabinet, b.frame, b.id;

-- name: InsertBoard :one
INSERT INTO boards (machine_id, x, y, z, cabinet, frame, board_num, ip, bmp_id, dead)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: ListBoardsOfMachine :many
SELECT * FROM boards WHERE machine_id = ? ORDER BY x, y, z;

-- name: SetBoardDead :exec
UPDATE boards SET dead = sqlc.arg(dead) WHERE id = sqlc.arg(id);

-- name: ListDeadLinksOfMachine :many
SELECT d.board_id, d.link, d.source
FROM dead_links d JOIN boards b ON b.id = d.board_id
WHERE b.machine_id = ?
ORDER BY d.board_id, d.link;

-- name: DeleteConfigDeadLinksOfMachine :exec
DELETE FROM dead_links
WHERE source = 'config' AND board_id IN (SELECT id FROM boards WHERE machine_id = ?);

-- name: InsertDeadLink :exec
-- An operator's entry for the same link stays (and keeps its source).
INSERT INTO dead_links (board_id, link, source) VALUES (?, ?, ?)
ON CONFLICT (board_id, link) DO NOTHING;
