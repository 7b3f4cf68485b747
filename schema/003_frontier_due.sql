-- 003_frontier_due.sql — find the next due retry without reading every
-- pending URL (500k pending URLs waiting on backoffs made that 50-100 ms).
CREATE INDEX urls_due ON urls(next_attempt_at, id) WHERE state = 'pending';
