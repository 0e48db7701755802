-- Open BMP operations are few and bmp_ops grows with every job: every query
-- of bmp_ops asks for the open ones (done_at IS NULL), most of them in
-- request order. One partial index on id serves them all, ordered, without
-- reading the history; the three partial indexes it replaces cost a write
-- each per operation requested and completed, while the listings in id
-- order still read the whole table.

-- +goose Up
DROP INDEX bmp_ops_open;
DROP INDEX bmp_ops_job;
DROP INDEX bmp_ops_board;
CREATE INDEX bmp_ops_open ON bmp_ops(id) WHERE done_at IS NULL;

-- +goose Down
DROP INDEX bmp_ops_open;
CREATE INDEX bmp_ops_open ON bmp_ops(bmp_id, id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_job ON bmp_ops(job_id) WHERE done_at IS NULL;
CREATE INDEX bmp_ops_board ON bmp_ops(board_id) WHERE done_at IS NULL;
