-- 004_select_review_release.sql — provenance details of candidates, user class
-- sets, and the select → review → export chain. Rows of selections, proposals,
-- reviews, releases and release_items are append-only: re-running a step adds
-- rows, it never rewrites history.

-- More provenance per (url, class) candidate.
ALTER TABLE url_tags ADD COLUMN title TEXT;          -- the source's title of the image
ALTER TABLE url_tags ADD COLUMN source_id TEXT;      -- the source's own id of the image
ALTER TABLE url_tags ADD COLUMN license_raw TEXT;    -- the licence exactly as the source wrote it
ALTER TABLE url_tags ADD COLUMN seed_ref TEXT;       -- 'FILE:LINE' for seed lists
ALTER TABLE url_tags ADD COLUMN api_request_id INTEGER;  -- the discover request that found it (see api_requests)

-- Every request `natadv discover` makes of an image-search API.
CREATE TABLE api_requests(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,           -- 'openverse' | 'inaturalist' | 'wikimedia' | 'flickr'
  query_id INTEGER REFERENCES queries(id),
  wnid TEXT REFERENCES classes(wnid),
  page TEXT,                      -- the page number or continuation token asked for
  url TEXT NOT NULL,              -- the request URL without secrets (api keys removed)
  run_id INTEGER REFERENCES runs(id),
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  http_status INTEGER,
  body_sha256 TEXT,               -- of the response body
  candidates INTEGER NOT NULL DEFAULT 0,  -- candidates the page held
  queued INTEGER NOT NULL DEFAULT 0,      -- of which queued for crawling (licence allowed)
  next_page TEXT,                 -- what the following request asks for; NULL at the end
  outcome TEXT NOT NULL,          -- 'ok' | 'retry' | 'failed'
  error TEXT
);
CREATE INDEX api_requests_query ON api_requests(source, wnid, id);

-- User class sets (classes add-set) name the set they were derived from.
ALTER TABLE class_sets ADD COLUMN based_on TEXT;

-- One run of `natadv select`: a rule with its parameters applied to the
-- scores of one model (and optionally more that must agree) over one set.
CREATE TABLE selections(
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL REFERENCES class_sets(name),
  model_id TEXT REFERENCES models(id),  -- NULL for a selection copied from a manifest by rebuild
  also_model_ids TEXT NOT NULL DEFAULT '[]',  -- JSON array of model ids that must also be wrong
  rule TEXT NOT NULL,             -- e.g. 'misclassified'
  params TEXT NOT NULL,           -- JSON: space, min_confidence, max_true_prob, near_distance, ...
  created_at TEXT NOT NULL,
  finished_at TEXT,               -- NULL until complete; an unfinished selection is never used
  proposals INTEGER,              -- counts, filled in at the end
  near_duplicates INTEGER,
  run_id INTEGER REFERENCES runs(id)
);

-- An (image, tagged class) a selection proposes, or collapsed into another
-- proposal of the same class as a near-duplicate.
CREATE TABLE proposals(
  id INTEGER PRIMARY KEY,
  selection_id INTEGER NOT NULL REFERENCES selections(id),
  image_hash TEXT NOT NULL REFERENCES images(hash),
  wnid TEXT NOT NULL REFERENCES classes(wnid),   -- the tagged (true) class
  pred_wnid TEXT NOT NULL REFERENCES classes(wnid),
  confidence REAL NOT NULL,       -- the predicted class's probability in the selection's space
  true_prob REAL NOT NULL,        -- the tagged class's probability in that space
  status TEXT NOT NULL CHECK(status IN ('proposed', 'near_duplicate')),
  duplicate_of INTEGER REFERENCES proposals(id),  -- the kept proposal, for near_duplicate
  distance INTEGER,               -- perceptual-hash distance to it
  UNIQUE(selection_id, image_hash, wnid)
);
CREATE INDEX proposals_sel ON proposals(selection_id, wnid);

-- The review log, append-only. A decision is about (set, image, class), so it
-- survives a re-selection; proposal_id names the proposal it was made on.
-- 'undo' rows cancel the review named by undoes. The decision in force is the
-- latest accept/reject row that no undo row cancels (see review_state).
CREATE TABLE reviews(
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL REFERENCES class_sets(name),
  image_hash TEXT NOT NULL REFERENCES images(hash),
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  proposal_id INTEGER REFERENCES proposals(id),
  decision TEXT NOT NULL CHECK(decision IN ('accept', 'reject', 'undo')),
  reason TEXT,
  reviewer TEXT NOT NULL,
  mode TEXT NOT NULL CHECK(mode IN ('cli', 'auto', 'web')),
  undoes INTEGER REFERENCES reviews(id),
  at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX reviews_key ON reviews(set_name, image_hash, wnid, id);
CREATE INDEX reviews_undoes ON reviews(undoes) WHERE undoes IS NOT NULL;

-- The decision in force per (set, image, class): one row, or none if undecided.
CREATE VIEW review_state AS
SELECT r.set_name, r.image_hash, r.wnid, r.id AS review_id, r.decision, r.reason, r.reviewer, r.mode, r.at
FROM reviews r
WHERE r.decision IN ('accept', 'reject')
  AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id)
  AND r.id = (SELECT max(r2.id) FROM reviews r2
              WHERE r2.set_name = r.set_name AND r2.image_hash = r.image_hash AND r2.wnid = r.wnid
                AND r2.decision IN ('accept', 'reject')
                AND NOT EXISTS (SELECT 1 FROM reviews u2 WHERE u2.undoes = r2.id));

-- The selection in force per set: the latest finished one.
CREATE VIEW current_selection AS
SELECT set_name, max(id) AS selection_id FROM selections WHERE finished_at IS NOT NULL GROUP BY set_name;

-- An exported release. released_at is the fixed time written into the tar;
-- exporting the same content again reuses it, so the bytes come out equal.
CREATE TABLE releases(
  id INTEGER PRIMARY KEY,
  set_name TEXT NOT NULL REFERENCES class_sets(name),
  version TEXT NOT NULL,
  selection_id INTEGER REFERENCES selections(id),
  content_sha256 TEXT NOT NULL,   -- SHA-256 over the sorted (path, sha256) list
  released_at TEXT NOT NULL,      -- ISO-8601 UTC
  released_unix INTEGER NOT NULL, -- the tar's mtime for every entry
  partial INTEGER NOT NULL DEFAULT 0,
  images INTEGER NOT NULL,
  out_dir TEXT,
  manifest_sha256 TEXT,
  tar_sha256 TEXT,
  created_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);

-- Each file of a release's imagenet-a/ (or set) folder that is an image.
CREATE TABLE release_items(
  release_id INTEGER NOT NULL REFERENCES releases(id),
  path TEXT NOT NULL,             -- inside the release, e.g. 'imagenet-a/n01498041/0a1b….jpg'
  image_hash TEXT NOT NULL REFERENCES images(hash),
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  proposal_id INTEGER REFERENCES proposals(id),
  review_id INTEGER REFERENCES reviews(id),
  sha256 TEXT NOT NULL,           -- of the file as written (differs from the image's when converted)
  bytes INTEGER NOT NULL,
  converted TEXT,                 -- NULL when copied byte for byte, else e.g. 'png->jpeg q=95'
  PRIMARY KEY(release_id, path)
) WITHOUT ROWID;
CREATE INDEX release_items_image ON release_items(image_hash);
