-- 002_models.sql — classifiers and their predictions for stored images.

-- A classifier's weights, identified by the SHA-256 of the safetensors file;
-- the file itself is kept in models/<sha256>.safetensors.
CREATE TABLE models(
  id TEXT PRIMARY KEY,            -- SHA-256 of the weights file
  name TEXT NOT NULL UNIQUE,
  arch TEXT NOT NULL,             -- 'resnet50', 'resnext50_32x4d', ...
  classes INTEGER NOT NULL,       -- outputs of the final layer
  bytes INTEGER NOT NULL,
  source_url TEXT,
  preprocessing TEXT NOT NULL,    -- 'torchvision-eval resize=256 crop=224 bilinear-antialias'
  added_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id)
);

-- One row per (image, model): the prediction, or why the image could not be scored.
CREATE TABLE scores(
  image_hash TEXT NOT NULL REFERENCES images(hash),
  model_id TEXT NOT NULL REFERENCES models(id),
  status TEXT NOT NULL CHECK(status IN ('scored', 'unscorable')),
  error TEXT,                     -- why unscorable
  logits BLOB,                    -- the raw logits, little-endian float32
  top5 TEXT,                      -- JSON [[index_1k, prob], ...] by the 1000-way softmax
  pred_1k INTEGER,                -- argmax of the 1000 logits
  prob_1k REAL,
  pred_subset_wnid TEXT,          -- argmax over the imagenet-a classes' logits only
  prob_subset REAL,               -- its probability in the softmax over those logits
  fast_decode INTEGER NOT NULL DEFAULT 0,
  scored_at TEXT NOT NULL,
  run_id INTEGER REFERENCES runs(id),
  PRIMARY KEY(image_hash, model_id)
) WITHOUT ROWID;
CREATE INDEX scores_model ON scores(model_id, status);

-- The probability a model gives each class an image is tagged with.
CREATE TABLE score_tags(
  image_hash TEXT NOT NULL,
  model_id TEXT NOT NULL,
  wnid TEXT NOT NULL REFERENCES classes(wnid),
  p_1k REAL,                      -- in the 1000-way softmax (NULL when outside ImageNet-1K)
  p_subset REAL,                  -- in the softmax over the imagenet-a classes (NULL when outside them)
  PRIMARY KEY(image_hash, model_id, wnid),
  FOREIGN KEY(image_hash, model_id) REFERENCES scores(image_hash, model_id)
) WITHOUT ROWID;
