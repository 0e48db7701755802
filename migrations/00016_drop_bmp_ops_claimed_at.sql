-- Claims of BMP operations are leases kept in memory only (a restart hands
-- every open operation out again), so bmp_ops.claimed_at has stayed NULL
-- since then. It goes; an operation's attempts are still counted when its
-- outcome is recorded.

-- +goose Up
ALTER TABLE bmp_ops DROP COLUMN claimed_at;

-- +goose Down
ALTER TABLE bmp_ops ADD COLUMN claimed_at REAL;
