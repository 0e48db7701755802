-- The boards table is small (one row per board of every machine ever
-- configured) and only the consistency check looks boards up by job; the
-- in-memory state answers everything else. Each allocation and release
-- moved every board of the job between these two indexes, costing four
-- index writes per board per job for no read worth it.

-- +goose Up
DROP INDEX boards_job;
DROP INDEX boards_waiting;

-- +goose Down
CREATE INDEX boards_job ON boards(job_id) WHERE job_id IS NOT NULL;
CREATE INDEX boards_waiting ON boards(waiting_job_id) WHERE waiting_job_id IS NOT NULL;
