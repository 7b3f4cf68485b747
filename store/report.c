/* report.c — the numbers of natadv report, as SQL aggregates: one query per
 * section, each a single pass over indexed tables (no query per row), whose
 * column aliases are the JSON keys (store_rows_json's conventions).
 *
 * Why a URL failed is read from its last_error, which the crawler writes;
 * URL_REASON below is the one place that sorts those messages into kinds. */
#include "store_internal.h"

#include <jansson.h>

#include "common/err.h"

/* The kind of failure of a failed or opted-out URL from its last_error (the
 * crawler's messages: crawler/transfer.c, crawl.c, robots_cache.c, and the
 * validator's in image/). */
#define URL_REASON(e)                                                                                         \
	"(CASE WHEN " e " LIKE 'HTTP %' THEN 'http_status' "                                                  \
	"WHEN " e " LIKE 'timeout%' OR " e " LIKE '%timed out%' THEN 'timeout' "                              \
	"WHEN " e " LIKE 'image too small%' THEN 'too_small' "                                                \
	"WHEN " e " LIKE 'image too large%' OR " e " LIKE 'response larger than%' THEN 'too_large' "          \
	"WHEN " e " LIKE 'disallowed by robots.txt%' THEN 'robots_txt' "                                      \
	"WHEN " e " LIKE 'X-Robots-Tag%' THEN 'x_robots_tag' "                                                \
	"WHEN " e " LIKE 'refused: %private%' THEN 'private_address' "                                        \
	"WHEN " e " LIKE 'not an image%' OR " e " LIKE 'corrupt %' OR " e " LIKE 'unsupported %' "            \
	"OR " e " LIKE 'truncated %' OR " e " = 'empty body' THEN 'invalid_image' "                           \
	"ELSE 'other' END)"

/* Kinds whose URL answered with a body: counted as fetched in the funnel. */
#define ANSWERED "('invalid_image', 'too_small', 'too_large', 'x_robots_tag')"

/* The classes of set ?1, and the kept proposals of its selection in force
 * with the decision in force for each (NULL when undecided). */
#define SET_CTE "m AS (SELECT set_index, wnid FROM class_set_members WHERE set_name = ?1)"
#define PS_CTE                                                                                                \
	"ps AS MATERIALIZED (SELECT p.image_hash, p.wnid, p.pred_wnid, p.confidence, p.true_prob, "           \
	"(SELECT r.decision FROM review_state r WHERE r.set_name = ?1 AND r.image_hash = p.image_hash "       \
	"AND r.wnid = p.wnid) AS decision FROM proposals p "                                                  \
	"WHERE p.selection_id = (SELECT selection_id FROM current_selection WHERE set_name = ?1) "            \
	"AND p.status = 'proposed')"

static const char funnel_sql[] =
	"WITH " SET_CTE ", " PS_CTE ", "
	"q AS (SELECT wnid, count(*) AS queued FROM url_tags WHERE wnid IN (SELECT wnid FROM m) GROUP BY wnid), "
	/* fetched: the tags of fetched urls (each is an image tag) and of urls
	 * that answered with a body that was refused */
	"fa AS (SELECT t.wnid, count(*) AS n FROM urls u CROSS JOIN url_tags t ON t.url_id = u.id "
	"WHERE u.state IN ('failed', 'opted_out') AND " URL_REASON("u.last_error") " IN " ANSWERED
	" GROUP BY t.wnid), "
	"ft AS (SELECT wnid, count(*) AS n FROM image_tags WHERE wnid IN (SELECT wnid FROM m) GROUP BY wnid), "
	"sk AS (SELECT wnid, count(*) AS n FROM discover_skipped WHERE wnid IN (SELECT wnid FROM m) GROUP BY wnid), "
	"v AS (SELECT it.wnid, count(DISTINCT it.image_hash) AS valid, count(DISTINCT CASE WHEN EXISTS "
	"(SELECT 1 FROM scores s WHERE s.image_hash = it.image_hash AND s.status = 'scored') THEN it.image_hash END) "
	"AS scored FROM image_tags it WHERE +it.wnid IN (SELECT wnid FROM m) GROUP BY it.wnid), "
	"p AS (SELECT wnid, count(*) AS proposed, coalesce(sum(decision = 'accept'), 0) AS accepted, "
	"coalesce(sum(decision = 'reject'), 0) AS rejected FROM ps GROUP BY wnid), "
	"ri AS (SELECT wnid, count(*) AS released FROM release_items "
	"WHERE release_id = (SELECT max(id) FROM releases WHERE set_name = ?1) GROUP BY wnid) "
	"SELECT m.set_index AS label, m.wnid, " CLASS_NAME("c") " AS name, "
	"coalesce(q.queued, 0) + coalesce(sk.n, 0) AS discovered, coalesce(q.queued, 0) AS queued, "
	"coalesce(ft.n, 0) + coalesce(fa.n, 0) AS fetched, coalesce(v.valid, 0) AS valid, coalesce(v.scored, 0) AS scored, "
	"coalesce(p.proposed, 0) AS proposed, coalesce(p.accepted, 0) AS accepted, "
	"coalesce(p.rejected, 0) AS rejected, coalesce(ri.released, 0) AS released "
	"FROM m JOIN classes c ON c.wnid = m.wnid LEFT JOIN q ON q.wnid = m.wnid LEFT JOIN sk ON sk.wnid = m.wnid "
	"LEFT JOIN fa ON fa.wnid = m.wnid LEFT JOIN ft ON ft.wnid = m.wnid "
	"LEFT JOIN v ON v.wnid = m.wnid LEFT JOIN p ON p.wnid = m.wnid LEFT JOIN ri ON ri.wnid = m.wnid "
	"ORDER BY m.set_index";

static const char discovered_sql[] =
	"WITH " SET_CTE " SELECT source, sum(n) AS discovered, sum(q) AS queued FROM ("
	"SELECT source, count(*) AS n, count(*) AS q FROM url_tags WHERE wnid IN (SELECT wnid FROM m) GROUP BY source "
	"UNION ALL SELECT source, count(*), 0 FROM discover_skipped WHERE wnid IN (SELECT wnid FROM m) GROUP BY source"
	") GROUP BY source ORDER BY discovered DESC, source";

/* Failed and opted-out urls per (host, message), with the kind of the
 * message: report.c sums them by kind, by message and by host. */
static const char failures_sql[] =
	"SELECT host, error, " URL_REASON("error") " AS reason, urls FROM (SELECT host, coalesce(last_error, '') "
	"AS error, count(*) AS urls FROM urls WHERE state IN ('failed', 'opted_out') GROUP BY 1, 2) ORDER BY 1, 2";

static const char confidence_sql[] =
	"WITH " PS_CTE " SELECT CASE decision WHEN 'accept' THEN 'accepted' WHEN 'reject' THEN 'rejected' "
	"ELSE 'undecided' END AS series, min(max(CAST(confidence * 20 AS INTEGER), 0), 19) AS bin, count(*) AS n "
	"FROM ps GROUP BY 1, 2 UNION ALL SELECT 'true_prob', min(max(CAST(true_prob * 20 AS INTEGER), 0), 19), "
	"count(*) FROM ps GROUP BY 2 ORDER BY 1, 2";

static const char confusions_sql[] =
	"WITH " PS_CTE ", "
	"pairs AS (SELECT wnid, pred_wnid, count(*) AS n, coalesce(sum(decision = 'accept'), 0) AS accepted FROM ps "
	"GROUP BY 1, 2 ORDER BY n DESC, wnid, pred_wnid LIMIT 30), "
	"top AS (SELECT wnid, pred_wnid, image_hash, confidence, k FROM (SELECT wnid, pred_wnid, image_hash, confidence, "
	"row_number() OVER (PARTITION BY wnid, pred_wnid ORDER BY confidence DESC, image_hash) AS k "
	"FROM ps WHERE (wnid, pred_wnid) IN (SELECT wnid, pred_wnid FROM pairs)) WHERE k <= 4), "
	"ex AS (SELECT wnid, pred_wnid, json_group_array(json_object('hash', image_hash, "
	"'confidence', round(confidence, 4), 'author', author, 'license', license, 'url', url)) AS examples "
	"FROM (SELECT top.*, t.author, t.license, u.url FROM top "
	"JOIN image_tags it ON it.image_hash = top.image_hash AND it.wnid = top.wnid "
	"AND it.url_id = (SELECT min(url_id) FROM image_tags i2 WHERE i2.image_hash = top.image_hash "
	"AND i2.wnid = top.wnid) JOIN url_tags t ON t.url_id = it.url_id AND t.wnid = it.wnid "
	"JOIN urls u ON u.id = it.url_id ORDER BY top.wnid, top.pred_wnid, top.k) GROUP BY 1, 2) "
	"SELECT pairs.wnid, " CLASS_NAME("c1") " AS name, pairs.pred_wnid, " CLASS_NAME("c2") " AS pred_name, "
	"pairs.n AS proposals, pairs.accepted, ex.examples AS examples_json FROM pairs "
	"JOIN classes c1 ON c1.wnid = pairs.wnid JOIN classes c2 ON c2.wnid = pairs.pred_wnid "
	"JOIN ex ON ex.wnid = pairs.wnid AND ex.pred_wnid = pairs.pred_wnid "
	"ORDER BY pairs.n DESC, pairs.wnid, pairs.pred_wnid";

/* By source and licence over the set: the images of each class (an image
 * counted once per class it is tagged with) and the accepted proposals,
 * each under the first url that tagged its image with its class, so both
 * add up across either key (report.c sums them per source and per
 * licence). The images are image_tags read in its key order. */
static const char tags_sql[] =
	"WITH " SET_CTE ", " PS_CTE " SELECT source, license, sum(images) AS images, sum(accepted) AS accepted "
	"FROM (SELECT t.source, coalesce(t.license, 'unknown') AS license, count(*) AS images, 0 AS accepted "
	"FROM (SELECT image_hash, wnid, min(url_id) AS url_id FROM image_tags WHERE wnid IN (SELECT wnid FROM m) "
	"GROUP BY image_hash, wnid) f CROSS JOIN url_tags t ON t.url_id = f.url_id AND t.wnid = f.wnid GROUP BY 1, 2 "
	"UNION ALL SELECT t.source, coalesce(t.license, 'unknown'), 0, count(*) FROM ps "
	"CROSS JOIN url_tags t ON t.url_id = (SELECT min(url_id) FROM image_tags it "
	"WHERE it.image_hash = ps.image_hash AND it.wnid = ps.wnid) AND t.wnid = ps.wnid "
	"WHERE ps.decision = 'accept' GROUP BY 1, 2) GROUP BY 1, 2 ORDER BY 1, 2";

/* Median seconds between a reviewer's consecutive decisions on the page,
 * leaving out pauses over 10 minutes. */
static const char reviewers_sql[] =
	"WITH r AS (SELECT id, reviewer, mode, decision, julianday(at) AS t FROM reviews WHERE set_name = ?1), "
	"g AS (SELECT reviewer, mode, (t - lag(t) OVER (PARTITION BY reviewer, mode ORDER BY id)) * 86400.0 AS dt "
	"FROM r WHERE mode = 'web'), "
	"o AS (SELECT reviewer, mode, dt, row_number() OVER (PARTITION BY reviewer, mode ORDER BY dt) AS k, "
	"count(*) OVER (PARTITION BY reviewer, mode) AS c FROM g WHERE dt IS NOT NULL AND dt <= 600), "
	"med AS (SELECT reviewer, mode, avg(dt) AS median FROM o WHERE k IN ((c + 1) / 2, (c + 2) / 2) GROUP BY 1, 2) "
	"SELECT r.reviewer, r.mode, count(*) AS reviews, sum(decision = 'accept') AS accepts, "
	"sum(decision = 'reject') AS rejects, sum(decision = 'undo') AS undos, "
	"CASE WHEN sum(decision IN ('accept', 'reject')) > 0 THEN round(1.0 * sum(decision = 'accept') / "
	"sum(decision IN ('accept', 'reject')), 4) END AS accept_rate, round(med.median, 3) AS median_seconds "
	"FROM r LEFT JOIN med ON med.reviewer = r.reviewer AND med.mode = r.mode "
	"GROUP BY r.reviewer, r.mode ORDER BY reviews DESC, r.reviewer, r.mode";

/* The latest runs (the page shows at most this many), oldest first. */
static const char runs_sql[] =
	"WITH f AS (SELECT run_id, count(*) AS n, sum(outcome = 'image') AS images FROM fetches GROUP BY run_id), "
	"sc AS (SELECT run_id, count(*) AS n FROM scores GROUP BY run_id) "
	"SELECT * FROM (SELECT r.id, r.command, r.started_at, r.finished_at, r.status, "
	"CAST(round((julianday(r.started_at) - 2440587.5) * 86400000.0) AS INTEGER) AS started_ms, "
	"round((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0, 3) AS seconds, "
	"coalesce(f.n, 0) AS urls, coalesce(f.images, 0) + coalesce(sc.n, 0) AS images "
	"FROM runs r LEFT JOIN f ON f.run_id = r.id LEFT JOIN sc ON sc.run_id = r.id ORDER BY r.id DESC LIMIT 300) "
	"ORDER BY id";

static const struct {
	const char *key;
	const char *sql;
} sections[] = {
	{"funnel", funnel_sql},
	{"discovered", discovered_sql},
	{"failures", failures_sql},
	{"confidence", confidence_sql},
	{"confusions", confusions_sql},
	{"tags", tags_sql},
	{"reviewers", reviewers_sql},
	{"runs", runs_sql},
};

int store_report_json(store *s, const char *set, json_t **out)
{
	*out = NULL;
	int rc = store_set_exists(s, set);
	if (rc)
		return rc;
	json_t *o = json_object();
	if (!o)
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	/* Reading a large workspace through the page cache directly halves the
	 * time; the handle goes back to plain reads afterwards. */
	rc = store_exec(s, "PRAGMA mmap_size = 4294967296");
	for (size_t i = 0; !rc && i < sizeof sections / sizeof sections[0]; i++) {
		sqlite3_stmt *st = store_sql(s, sections[i].sql);
		json_t *arr = json_array();
		if (!st)
			rc = NATADV_EDB;
		else if (!arr || json_object_set_new(o, sections[i].key, arr))
			rc = store_fail(s, NATADV_ENOMEM, "out of memory");
		else {
			sqlite3_bind_text(st, 1, set, -1, SQLITE_TRANSIENT);
			rc = store_rows_json(s, st, arr, sections[i].key, 100000);
		}
	}
	if (rc)
		json_decref(o);
	else
		*out = o;
	if (store_exec(s, "PRAGMA mmap_size = 0") && !rc) {
		json_decref(o);
		*out = NULL;
		rc = NATADV_EDB;
	}
	return rc;
}
