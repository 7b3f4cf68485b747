-- 008_parts.sql — scale-out: where each run ran, the workspace's identity,
-- and the parts a workspace was split into (natadv split / natadv merge).

-- Where a run ran: the machine, and the Slurm job when under Slurm. A run
-- merged from a part keeps these and names the part and its id there.
ALTER TABLE runs ADD COLUMN host TEXT;                 -- gethostname()
ALTER TABLE runs ADD COLUMN slurm_job_id TEXT;         -- $SLURM_JOB_ID, when set
ALTER TABLE runs ADD COLUMN slurm_array_job_id TEXT;   -- $SLURM_ARRAY_JOB_ID, when set
ALTER TABLE runs ADD COLUMN slurm_array_task_id TEXT;  -- $SLURM_ARRAY_TASK_ID, when set
ALTER TABLE runs ADD COLUMN part TEXT;                 -- merged from this part, e.g. 'crawl-7/part-0003'
ALTER TABLE runs ADD COLUMN part_run_id INTEGER;       -- the run's id in the part
ALTER TABLE runs ADD COLUMN merge_run_id INTEGER REFERENCES runs(id);  -- the merge that brought it

-- One row: who this workspace is, wherever its folder is moved or copied to.
CREATE TABLE workspace(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  uuid TEXT NOT NULL,             -- 32 lower-case hex digits, random
  created_at TEXT NOT NULL
);
INSERT INTO workspace(id, uuid, created_at)
  VALUES(1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- One natadv split: a stage's pending work handed out to parts.
CREATE TABLE splits(
  id INTEGER PRIMARY KEY,
  stage TEXT NOT NULL CHECK(stage IN ('crawl', 'score')),
  by TEXT NOT NULL,               -- 'host' | 'url' (crawl), 'hash' (score)
  model_id TEXT REFERENCES models(id),   -- score: the model the parts score with
  parts INTEGER NOT NULL,
  out_dir TEXT NOT NULL,
  created_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);

-- Each part workspace a split wrote. A part is out until merged_at is set.
CREATE TABLE split_parts(
  split_id INTEGER NOT NULL REFERENCES splits(id),
  part INTEGER NOT NULL,          -- 0-based index
  uuid TEXT NOT NULL UNIQUE,      -- the part workspace's own workspace.uuid
  dir TEXT NOT NULL,              -- where split wrote it (merge accepts it anywhere)
  items INTEGER NOT NULL,         -- urls or images handed to it
  created_at TEXT NOT NULL,
  merged_at TEXT,
  merge_run_id INTEGER REFERENCES runs(id),
  PRIMARY KEY(split_id, part)
) WITHOUT ROWID;

-- The work out in parts not merged yet: a second split leaves it alone.
-- Rows go when their part is merged.
CREATE TABLE split_urls(
  url_id INTEGER PRIMARY KEY REFERENCES urls(id),
  split_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  FOREIGN KEY(split_id, part) REFERENCES split_parts(split_id, part)
);
CREATE INDEX split_urls_part ON split_urls(split_id, part);
CREATE TABLE split_images(
  image_hash TEXT NOT NULL REFERENCES images(hash),
  model_id TEXT NOT NULL REFERENCES models(id),
  split_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  PRIMARY KEY(image_hash, model_id),
  FOREIGN KEY(split_id, part) REFERENCES split_parts(split_id, part)
) WITHOUT ROWID;
CREATE INDEX split_images_part ON split_images(split_id, part);
