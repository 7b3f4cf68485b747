-- 009_report.sql — indexes for natadv report's aggregates: throughput per
-- run (fetch attempts and images stored, images scored) without reading
-- every fetch and score row through the table; candidates per class and
-- source from an index alone.
CREATE INDEX fetches_run ON fetches(run_id, outcome);
CREATE INDEX scores_run ON scores(run_id);
CREATE INDEX url_tags_wnid_source ON url_tags(wnid, source);
