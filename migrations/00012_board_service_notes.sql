-- Who took a board out of service (an admin token's name; NULL for the
-- BMP workers' failures), and when it was last returned to service (problem
-- reports filed before then no longer count towards the sick-board rule).

-- The reports of a board within a window are counted at every report:
-- board_reports_board gives way to an index by board and time.

-- +goose Up
ALTER TABLE boards ADD COLUMN out_of_service_by TEXT;
ALTER TABLE boards ADD COLUMN returned_at REAL;
DROP INDEX board_reports_board;
CREATE INDEX board_reports_board_at ON board_reports(board_id, reported_at);

-- +goose Down
DROP INDEX board_reports_board_at;
CREATE INDEX board_reports_board ON board_reports(board_id);
ALTER TABLE boards DROP COLUMN returned_at;
ALTER TABLE boards DROP COLUMN out_of_service_by;
