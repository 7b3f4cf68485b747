-- 005_discover.sql — candidates that `natadv discover` found but did not queue
-- for crawling (a licence outside the filter, no usable image URL, ...), kept
-- so the choice is visible (natadv stats) and can be audited. Append-only; one
-- row per (source, class, image) however often a search meets it again.
CREATE TABLE discover_skipped(
  id INTEGER PRIMARY KEY,
  api_request_id INTEGER NOT NULL REFERENCES api_requests(id),
  source TEXT NOT NULL,
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  source_id TEXT NOT NULL,        -- the source's own id of the image
  reason TEXT NOT NULL CHECK(reason IN ('licence', 'unknown_licence', 'no_url', 'bad_url',
                                        'not_jpeg_png', 'too_small')),
  url TEXT,                       -- normalised when it could be, else as the source gave it
  page_url TEXT,
  license TEXT,                   -- normalised; NULL when not recognised
  license_raw TEXT,
  author TEXT,
  title TEXT,
  added_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id),
  UNIQUE(source, wnid, source_id)
);
CREATE INDEX discover_skipped_request ON discover_skipped(api_request_id);

-- Where a (source, class, query) stands: its latest finished request.
CREATE INDEX api_requests_resume ON api_requests(source, wnid, query_id, id);
