-- name: ConsistencyProblems :many
-- Every row describes one inconsistency (CheckConsistency); live machines only.
SELECT CAST(problem AS TEXT) AS problem FROM (
    SELECT 'board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' is held by job ' || b.job_id
           || ' in state ' || j.state AS problem
    FROM boards b JOIN machines m ON m.id = b.machine_id JOIN jobs j ON j.id = b.job_id
    WHERE j.state NOT IN (2, 3)
    UNION ALL
    SELECT 'board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' is held by job ' || b.job_id
           || ' allocated on another machine'
    FROM boards b JOIN machines m ON m.id = b.machine_id JOIN jobs j ON j.id = b.job_id
    WHERE j.machine_id IS NULL OR j.machine_id != b.machine_id
    UNION ALL
    SELECT 'board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' is held by job ' || b.job_id
           || ' of a retired machine'
    FROM boards b JOIN machines m ON m.id = b.machine_id
    WHERE b.job_id IS NOT NULL AND m.retired_at IS NOT NULL
    UNION ALL
    SELECT 'open allocation of board id ' || a.board_id || ' to job ' || a.job_id || ' but the board is held by '
           || coalesce(b.job_id, 'nobody')
    FROM board_allocations a JOIN boards b ON b.id = a.board_id
    WHERE a.freed_at IS NULL AND (b.job_id IS NULL OR b.job_id != a.job_id)
    UNION ALL
    SELECT 'board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' is held by job ' || b.job_id
           || ' without an open allocation record'
    FROM boards b JOIN machines m ON m.id = b.machine_id
    WHERE b.job_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM board_allocations a WHERE a.board_id = b.id AND a.job_id = b.job_id AND a.freed_at IS NULL)
    UNION ALL
    SELECT 'job ' || j.id || ' is in state ' || j.state || ' but holds no boards'
    FROM jobs j
    WHERE j.state IN (2, 3) AND NOT EXISTS (SELECT 1 FROM boards b WHERE b.job_id = j.id)
    UNION ALL
    SELECT 'job ' || j.id || ' is ready but has pending BMP operations'
    FROM jobs j
    WHERE j.state = 3 AND EXISTS (
        SELECT 1 FROM bmp_board_ops o JOIN boards b ON b.id = o.board_id
        WHERE o.job_id = j.id AND b.job_id = j.id)
    UNION ALL
    SELECT 'job ' || j.id || ' is in state power but has no pending BMP operations'
    FROM jobs j
    WHERE j.state = 2 AND NOT EXISTS (
        SELECT 1 FROM bmp_board_ops o JOIN boards b ON b.id = o.board_id
        WHERE o.job_id = j.id AND b.job_id = j.id)
    UNION ALL
    SELECT 'board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' has power ' || b.power
           || ' but job ' || j.id || ' wants ' || j.power || ' and nothing is pending'
    FROM boards b JOIN machines m ON m.id = b.machine_id JOIN jobs j ON j.id = b.job_id
    WHERE b.out_of_service IS NULL AND j.state IN (2, 3) AND b.power != j.power
      AND NOT EXISTS (SELECT 1 FROM bmp_board_ops o WHERE o.board_id = b.id
                      AND o.op IN ('power_on', 'power_off'))
    UNION ALL
    SELECT 'free board ' || m.name || ' ' || b.x || ',' || b.y || ',' || b.z || ' is powered with no power-off pending'
    FROM boards b JOIN machines m ON m.id = b.machine_id
    WHERE m.retired_at IS NULL AND b.job_id IS NULL AND b.waiting_job_id IS NULL AND b.out_of_service IS NULL
      AND b.power = 1
      AND NOT EXISTS (SELECT 1 FROM bmp_board_ops o WHERE o.board_id = b.id AND o.op = 'power_off')
    UNION ALL
    SELECT 'queued job ' || j.id || ' is in no queue'
    FROM jobs j
    WHERE j.state = 1 AND NOT EXISTS (SELECT 1 FROM job_queue q WHERE q.job_id = j.id)
    UNION ALL
    SELECT 'job ' || q.job_id || ' in state ' || j.state || ' is still queued on machine id ' || q.machine_id
    FROM job_queue q JOIN jobs j ON j.id = q.job_id
    WHERE j.state != 1
    UNION ALL
    SELECT 'job ' || q.job_id || ' is queued on retired machine id ' || q.machine_id
    FROM job_queue q JOIN machines m ON m.id = q.machine_id
    WHERE m.retired_at IS NOT NULL
);
