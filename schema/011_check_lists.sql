-- 011_check_lists.sql — the CHECK constraints that list a column's values
-- (urls.state, scores.status) become chains of comparisons, the same rule:
-- SQLite builds a temporary index for an IN list each time it checks a
-- row, which made every url state update cost several times its write.
-- SQLite has no ALTER for a CHECK; store.c (migrate_11_data) rewrites the
-- table's text in the schema, the documented way for a change that no
-- stored row can break (sqlite.org/lang_altertable.html, section 7).
SELECT 1;
