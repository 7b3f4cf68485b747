-- 001_init.sql — the first schema of a natadv workspace.
-- Conventions: times are UTC ISO-8601 text ('2026-11-29T08:42:03.123Z');
-- image hashes are XXH3-128 as 32 lower-case hex digits; rows of fetches,
-- robots_fetches and runs are append-only.

CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  command TEXT NOT NULL,          -- the subcommand, e.g. 'crawl'
  args TEXT NOT NULL,             -- the whole command line, shell-quoted
  version TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,               -- NULL while running or if killed
  status INTEGER                  -- exit status
);

CREATE TABLE classes(
  wnid TEXT PRIMARY KEY,
  index_1k INTEGER UNIQUE,        -- logit index in a 1000-way classifier; NULL for classes outside ImageNet-1K
  names TEXT NOT NULL             -- WordNet lemmas, first name first
);

CREATE TABLE class_sets(
  name TEXT PRIMARY KEY,          -- 'imagenet-1k', 'imagenet-a', ...
  version TEXT NOT NULL,
  created_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);

CREATE TABLE class_set_members(
  set_name TEXT NOT NULL REFERENCES class_sets(name),
  set_index INTEGER NOT NULL,     -- label within the set (ImageFolder order)
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  PRIMARY KEY(set_name, wnid),
  UNIQUE(set_name, set_index)
);

-- What was asked of which source for which class (seed lists count as a source).
CREATE TABLE queries(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  query TEXT NOT NULL,
  wnid TEXT REFERENCES classes(wnid),
  issued_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id),
  UNIQUE(source, query, wnid)
);

-- A fetched image, keyed by the XXH3-128 of its exact bytes; the bytes live in
-- objects/<first two hex digits>/<the other 30>.
CREATE TABLE images(
  hash TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  format TEXT NOT NULL,           -- 'jpeg' | 'png'
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  phash INTEGER NOT NULL,         -- 64-bit dHash of the pixels (as a signed integer)
  first_seen TEXT NOT NULL,
  first_fetch_id INTEGER
) WITHOUT ROWID;

-- The frontier. A URL's state machine:
--   1. every URL starts 'pending' with attempts = 0;
--   2. a fetch attempt always adds a fetches row and increments attempts;
--   3. a retryable failure leaves it 'pending' with next_attempt_at in the future;
--   4. it ends 'fetched' (image_hash set), 'failed' (last_error set) or
--      'opted_out' (robots.txt or X-Robots-Tag; last_error says which);
--   5. 'crawl --retry-failed' moves 'failed' back to 'pending' (attempts reset).
CREATE TABLE urls(
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL,             -- host[:port] as used for politeness
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK(state IN ('pending', 'fetched', 'failed', 'opted_out')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL DEFAULT 0,   -- unix seconds
  last_error TEXT,
  image_hash TEXT REFERENCES images(hash),
  added_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX urls_pending ON urls(state, id);

-- Each (url, class) candidate with where it came from.
CREATE TABLE url_tags(
  url_id INTEGER NOT NULL REFERENCES urls(id),
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  source TEXT NOT NULL,
  query_id INTEGER REFERENCES queries(id),
  page_url TEXT,
  license TEXT,
  author TEXT,
  added_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id),
  PRIMARY KEY(url_id, wnid)
) WITHOUT ROWID;
CREATE INDEX url_tags_wnid ON url_tags(wnid);

-- Every fetch attempt, append-only.
CREATE TABLE fetches(
  id INTEGER PRIMARY KEY,
  url_id INTEGER NOT NULL REFERENCES urls(id),
  run_id INTEGER REFERENCES runs(id),
  attempt INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  http_status INTEGER,            -- of the last response; NULL if none
  final_url TEXT,
  redirects TEXT,                 -- JSON array of the URLs followed, in order
  content_type TEXT,
  declared_length INTEGER,        -- Content-Length, if sent
  received_length INTEGER NOT NULL DEFAULT 0,
  etag TEXT,
  last_modified TEXT,
  headers TEXT,                   -- the final response's header block
  outcome TEXT NOT NULL,          -- 'image' | 'retry' | 'failed' | 'opted_out'
  error TEXT,
  image_hash TEXT REFERENCES images(hash)
);
CREATE INDEX fetches_url ON fetches(url_id);

-- A class tag of a stored image, and the URL it came from.
CREATE TABLE image_tags(
  image_hash TEXT NOT NULL REFERENCES images(hash),
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  url_id INTEGER NOT NULL REFERENCES urls(id),
  PRIMARY KEY(image_hash, wnid, url_id)
) WITHOUT ROWID;
CREATE INDEX image_tags_wnid ON image_tags(wnid);

-- robots.txt, fetched once per host and cached; every fetch is a row.
CREATE TABLE robots_fetches(
  id INTEGER PRIMARY KEY,
  host TEXT NOT NULL,             -- scheme://host[:port]
  url TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id),
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  fetched_unix REAL NOT NULL,
  http_status INTEGER,
  final_url TEXT,
  error TEXT,
  body TEXT,                      -- at most 500 KiB, as RFC 9309 allows
  policy TEXT NOT NULL            -- 'rules' | 'allow_all' | 'disallow_all'
);
CREATE INDEX robots_host ON robots_fetches(host, id);
