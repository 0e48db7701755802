-- BMP reachability (README, board states): a BMP that does not answer is marked
-- unreachable; its boards are unavailable to new jobs (but not taken out of
-- service) until it answers again.

-- +goose Up
ALTER TABLE bmps ADD COLUMN unreachable_since REAL;  -- NULL = reachable (or not known otherwise)
ALTER TABLE bmps ADD COLUMN last_error TEXT;         -- why it was last marked unreachable

-- +goose Down
ALTER TABLE bmps DROP COLUMN last_error;
ALTER TABLE bmps DROP COLUMN unreachable_since;
