-- name: ListReservations :many
SELECT machine_id, job_id, x, y, w, h, reserved_at FROM reservations ORDER BY machine_id;

-- name: SetReservation :exec
INSERT INTO reservations (machine_id, job_id, x, y, w, h, reserved_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (machine_id) DO UPDATE SET job_id = excluded.job_id, x = excluded.x, y = excluded.y,
    w = excluded.w, h = excluded.h, reserved_at = excluded.reserved_at;

-- name: DeleteReservation :exec
DELETE FROM reservations WHERE machine_id = ?;
