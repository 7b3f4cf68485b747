#!/usr/bin/env bash
# report.sh — natadv report on a synthetic workspace of 1,000,000 urls and
# 200,000 images (target: the page in at most 10 s on this machine). The
# workspace is made by SQL alone (recursive CTEs, one transaction) over the
# schema natadv init creates: urls over 500 hosts with every kind of failure,
# a (url, class) tag each over imagenet-a's 200 classes, one fetch each,
# images with their tags, one model's scores, a selection of 40,000
# proposals, 30,000 reviews by three reviewers, a release of 10,000 images.
# Prints the time of `report`, of `report --json` and of `stats --json`.
# Usage: bash bench/report.sh   (URLS=N IMAGES=N change the size; KEEP=DIR
#        keeps the workspace there)
set -eu
cd "$(dirname "$0")/.."
URLS=${URLS:-1000000}
IMAGES=${IMAGES:-200000}
NATADV=${NATADV:-build/rel/natadv}
W=${KEEP:-$(mktemp -d /tmp/natadv-report.XXXXXX)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W"
rm -rf "$W/ws"
"$NATADV" -q -w "$W/ws" init
t0=$(date +%s.%N)
sqlite3 "$W/ws/natadv.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -524288;
BEGIN;
INSERT INTO runs(id, command, args, version, pid, started_at, finished_at, status) VALUES
  (100, 'crawl', 'natadv crawl', 'bench', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T02:00:00.000Z', 3),
  (101, 'score', 'natadv score', 'bench', 1, '2026-01-01T02:10:00.000Z', '2026-01-01T03:00:00.000Z', 0),
  (102, 'select', 'natadv select', 'bench', 1, '2026-01-01T03:05:00.000Z', '2026-01-01T03:06:00.000Z', 0),
  (103, 'review', 'natadv review --serve', 'bench', 1, '2026-01-01T03:10:00.000Z', '2026-01-01T05:00:00.000Z', 0),
  (104, 'export', 'natadv export', 'bench', 1, '2026-01-01T05:10:00.000Z', '2026-01-01T05:12:00.000Z', 0);
CREATE TEMP TABLE cls AS SELECT set_index AS i, wnid FROM class_set_members WHERE set_name = 'imagenet-a';
CREATE TEMP TABLE err(k INTEGER PRIMARY KEY, state TEXT, msg TEXT, status INTEGER);
INSERT INTO err VALUES (0, 'failed', 'HTTP 404', 404), (1, 'failed', 'Timeout was reached', NULL),
  (2, 'failed', 'not an image: looks like html', 200), (3, 'failed', 'image too small: 40x30 (minimum side 64)', 200),
  (4, 'failed', 'response larger than 20000000 bytes', 200), (5, 'opted_out', 'disallowed by robots.txt', NULL),
  (6, 'opted_out', 'X-Robots-Tag forbids AI use', 200),
  (7, 'failed', 'refused: host resolves to a private or loopback address (use --allow-private)', NULL),
  (8, 'failed', 'corrupt jpeg: premature end of data segment', 200), (9, 'failed', 'HTTP 503', 503);
-- urls: 70% fetched (image id % IMAGES), 25% failed or opted out, 5% pending
WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < $URLS)
INSERT INTO urls(id, url, host, state, attempts, last_error, image_hash, added_at, run_id)
SELECT id, 'https://h' || (id % 500) || '.example/p/' || id || '.jpg', 'https://h' || (id % 500) || '.example',
  CASE WHEN id % 20 < 14 THEN 'fetched' WHEN id % 20 < 19 THEN (SELECT state FROM err WHERE k = id % 10) ELSE 'pending' END,
  1, CASE WHEN id % 20 BETWEEN 14 AND 18 THEN (SELECT msg FROM err WHERE k = id % 10) END,
  CASE WHEN id % 20 < 14 THEN printf('%032x', id % $IMAGES) END, '2026-01-01T00:00:00.000Z', 100
FROM n;
INSERT INTO url_tags(url_id, wnid, source, license, author, added_at, run_id)
SELECT id, (SELECT wnid FROM cls WHERE i = id % 200),
  CASE id % 4 WHEN 0 THEN 'inaturalist' WHEN 1 THEN 'openverse' WHEN 2 THEN 'wikimedia' ELSE 'flickr' END,
  CASE id % 3 WHEN 0 THEN 'cc-by-4.0' WHEN 1 THEN 'cc0-1.0' ELSE 'cc-by-sa-4.0' END, 'author ' || (id % 1000),
  '2026-01-01T00:00:00.000Z', 100 FROM urls;
INSERT INTO fetches(url_id, run_id, attempt, started_at, finished_at, http_status, received_length, outcome, error, image_hash)
SELECT id, 100, 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z',
  CASE WHEN state = 'fetched' THEN 200 ELSE (SELECT status FROM err WHERE k = id % 10) END, 1000,
  CASE state WHEN 'fetched' THEN 'image' WHEN 'pending' THEN 'retry' ELSE state END, last_error, image_hash
FROM urls WHERE state <> 'pending' OR id % 40 = 0;
WITH RECURSIVE n(id) AS (SELECT 0 UNION ALL SELECT id + 1 FROM n WHERE id < $IMAGES - 1)
INSERT INTO images(hash, sha256, bytes, format, width, height, phash, first_seen)
SELECT printf('%032x', id), printf('%064x', id), 100000, 'jpeg', 640, 480, id * 7919, '2026-01-01T00:00:00.000Z' FROM n;
INSERT OR IGNORE INTO image_tags(image_hash, wnid, url_id)
SELECT u.image_hash, t.wnid, u.id FROM urls u JOIN url_tags t ON t.url_id = u.id WHERE u.state = 'fetched';
INSERT INTO models(id, name, arch, classes, bytes, preprocessing, added_at, run_id)
VALUES (printf('%064x', 1), 'bench', 'resnet50', 1000, 1, 'torchvision-eval', '2026-01-01T00:00:00.000Z', 101);
INSERT INTO scores(image_hash, model_id, status, pred_1k, prob_1k, scored_at, run_id)
SELECT hash, printf('%064x', 1), 'scored', 1, 0.5, '2026-01-01T02:30:00.000Z', 101 FROM images;
INSERT INTO selections(id, set_name, model_id, rule, params, created_at, finished_at, proposals, near_duplicates, run_id)
VALUES (1, 'imagenet-a', printf('%064x', 1), 'misclassified', '{}', '2026-01-01T03:05:00.000Z', '2026-01-01T03:06:00.000Z', 40000, 0, 102);
-- every fifth image is proposed: the predicted class is one of a few others
INSERT INTO proposals(id, selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status)
SELECT it.k, 1, it.image_hash, it.wnid, (SELECT wnid FROM cls WHERE i = (c.i + 1 + (it.k % 3) * 7) % 200),
  0.5 + (abs(random()) % 500) / 1000.0, (abs(random()) % 100) / 1000.0, 'proposed'
FROM (SELECT row_number() OVER (ORDER BY image_hash) AS k, image_hash, wnid
      FROM (SELECT image_hash, min(wnid) AS wnid FROM image_tags GROUP BY image_hash)) it
JOIN cls c ON c.wnid = it.wnid WHERE it.k % 5 = 0;
INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, reviewer, mode, at, run_id)
SELECT 'imagenet-a', image_hash, wnid, id, CASE WHEN id % 4 = 0 THEN 'reject' ELSE 'accept' END,
  CASE WHEN id % 4 = 0 THEN 'ambiguous' END, CASE id % 3 WHEN 0 THEN 'ann' WHEN 1 THEN 'bob' ELSE 'cyd' END,
  CASE id % 3 WHEN 2 THEN 'cli' ELSE 'web' END, strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01 03:10:00', '+' || (id % 6000) || ' seconds'), 103
FROM proposals WHERE id % 4 <> 3 LIMIT 30000;
INSERT INTO releases(id, set_name, version, selection_id, content_sha256, released_at, released_unix, images, created_at, run_id)
VALUES (1, 'imagenet-a', '1.0', 1, printf('%064x', 2), '2026-01-01T05:10:00Z', 1767244200, 10000, '2026-01-01T05:10:00Z', 104);
INSERT INTO release_items(release_id, path, image_hash, wnid, proposal_id, sha256, bytes)
SELECT 1, 'imagenet-a/' || p.wnid || '/' || p.image_hash || '.jpg', p.image_hash, p.wnid, p.id, printf('%064x', 3), 100000
FROM proposals p JOIN reviews r ON r.proposal_id = p.id AND r.decision = 'accept' LIMIT 10000;
COMMIT;
SQL
t1=$(date +%s.%N)
echo "synthetic workspace: $(sqlite3 "$W/ws/natadv.db" 'SELECT count(*) FROM urls') urls, $(sqlite3 "$W/ws/natadv.db" 'SELECT count(*) FROM images') images, $(sqlite3 "$W/ws/natadv.db" 'SELECT count(*) FROM proposals') proposals, made in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s"
timed() { # LABEL COMMAND...: runs it, prints its wall time
	local a b
	a=$(date +%s.%N)
	"$@" > "$W/out" || { echo "$1 failed" >&2; exit 1; }
	b=$(date +%s.%N)
	printf '%-22s %6.2f s\n' "$LABEL" "$(echo "$b - $a" | bc)"
}
LABEL="natadv report" timed "$NATADV" -q -w "$W/ws" report
ls -la "$W/ws/report.html" | awk '{print "page: " $5 " bytes"}'
LABEL="natadv report --json" timed "$NATADV" -w "$W/ws" report --json
LABEL="natadv stats --json" timed "$NATADV" -w "$W/ws" stats --json
