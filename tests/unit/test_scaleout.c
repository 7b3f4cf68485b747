/* test_scaleout.c — split and merge on real workspaces: a crawl split by
 * host (every url in exactly one part, a host never in two, largest hosts
 * first onto the lightest part) and by url (even), a second split taking
 * nothing that is out, a score split by hash with hard-linked blobs, and
 * merging: the same image fetched in two parts stored once with both
 * fetches logged, a merge run twice changing nothing, an unfinished part
 * left out, a part of another workspace refused, runs keeping their host
 * and part. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "scaleout/scaleout.h"
#include "store/parts.h"
#include "store/store.h"
#include "tests/t.h"
#include "tests/unit/ws_sql.h"

static char root[256];

static void fresh_root(void)
{
	snprintf(root, sizeof root, "/tmp/natadv-test-scaleout.XXXXXX");
	T_CHECK(mkdtemp(root) != NULL);
}

/* A new workspace root/name with n urls over hosts: url i on host h[i]. */
static store *ws_with_urls(const char *name, int n, const int *h, int64_t *run)
{
	char dir[400], err[512], url[128], host[64];
	snprintf(dir, sizeof dir, "%s/%s", root, name);
	store *s = NULL;
	T_EQ_INT(store_create(dir, &s, err, sizeof err), 0);
	T_EQ_INT(store_run_begin(s, "test", "test", run), 0);
	for (int i = 0; i < n; i++) {
		snprintf(host, sizeof host, "http://h%d.example", h[i]);
		snprintf(url, sizeof url, "%s/%d.jpg", host, i);
		store_candidate c = {.url = url, .host = host, .wnid = "n01440764", .source = "seeds",
		                     .query = "tench", .page_url = "http://page.example/", .license = "cc0",
		                     .author = "someone", .attribution = "(c) someone"};
		T_EQ_INT(store_candidate_add(s, *run, &c, NULL, NULL), 0);
	}
	return s;
}

/* One integer from a query on the workspace database at dir. */
static long long q(const char *dir, const char *sql)
{
	char path[500];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "query failed on %s: %s: %s\n", dir, sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void part_dir(char *out, size_t n, const scaleout_split_result *r, int k)
{
	snprintf(out, n, "%s/part-%04d", r->out_dir, k);
}

static void count_pending(void *ctx, const store_pending *p)
{
	(void)p;
	(*(int *)ctx)++;
}

static void test_split_by_host(void)
{
	fresh_root();
	/* hosts 0..5 with 5, 4, 3, 2, 1, 1 urls, interleaved */
	int h[] = {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 1, 2, 0, 1, 0};
	int64_t run;
	store *s = ws_with_urls("ws", 16, h, &run);
	scaleout_split_opts o = {.stage = "crawl", .parts = 3, .out_dir = NULL, .run_id = run};
	scaleout_split_result r;
	char err[1024], dir[4200];
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	T_EQ_INT(r.items, 16);
	T_EQ_INT(r.hosts, 6);
	/* 5 | 4 | 3, then 2 onto the 3, 1 onto the 4, 1 onto part 0 (5, 5, 5) */
	T_EQ_INT(r.largest, 6);
	char want[300];
	snprintf(want, sizeof want, "%s/ws/parts/crawl-%lld", root, (long long)run);
	T_EQ_STR(r.out_dir, want);
	long long total = 0, seen_hosts = 0;
	for (int k = 0; k < 3; k++) {
		part_dir(dir, sizeof dir, &r, k);
		long long n = q(dir, "SELECT count(*) FROM urls WHERE state = 'pending'");
		total += n;
		T_EQ_INT(n, k == 0 ? 6 : 5);
		/* provenance travels with the url */
		T_EQ_INT(q(dir, "SELECT count(*) FROM url_tags t JOIN queries q ON q.id = t.query_id "
		                "WHERE t.attribution = '(c) someone' AND t.page_url IS NOT NULL AND q.query = 'tench'"), n);
		T_EQ_INT(q(dir, "SELECT count(*) FROM class_set_members WHERE set_name = 'imagenet-a'"), 200);
		scaleout_part_info pi;
		T_EQ_INT(scaleout_part_read(dir, &pi, err, sizeof err), 0);
		T_EQ_INT(pi.part, k);
		T_EQ_INT(pi.parts, 3);
		T_EQ_INT(pi.count, n);
		T_EQ_STR(pi.stage, "crawl");
		T_EQ_STR(pi.by, "host");
		/* the part's hosts as bits ('http://hN.example'): no host in two parts */
		long long hosts = q(dir, "SELECT sum(DISTINCT 1 << CAST(substr(host, 9, 1) AS INTEGER)) FROM urls");
		T_EQ_INT(hosts & seen_hosts, 0);
		seen_hosts |= hosts;
	}
	T_EQ_INT(seen_hosts, 63);
	T_EQ_INT(total, 16);
	/* every url out exactly once, marked in the parent */
	snprintf(dir, sizeof dir, "%s/ws", root);
	T_EQ_INT(q(dir, "SELECT count(DISTINCT url_id) FROM split_urls"), 16);
	/* the parent's own crawl leaves them to their parts */
	int seen = 0;
	double due = 0;
	T_EQ_INT(store_frontier_scan(s, 0, 1e12, 100, count_pending, &seen), 0);
	T_EQ_INT(seen, 0);
	T_EQ_INT(store_frontier_next_due(s, &due), NATADV_ENOTFOUND);
	/* a second split finds nothing left */
	char second[300];
	snprintf(second, sizeof second, "%s/second", root);
	o.out_dir = second;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), NATADV_ENOTFOUND);
	T_CHECK(strstr(err, "nothing to split") != NULL);
	/* a new url is what the next split takes */
	store_candidate c = {.url = "http://h9.example/new.jpg", .host = "http://h9.example", .wnid = "n01440764",
	                     .source = "seeds"};
	T_EQ_INT(store_candidate_add(s, run, &c, NULL, NULL), 0);
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	T_EQ_INT(r.items, 1);
	/* into the same folder again: its part folder exists, refused */
	T_EQ_INT(store_candidate_add(s, run, &(store_candidate){.url = "http://h9.example/2.jpg",
	                                                         .host = "http://h9.example", .wnid = "n01440764",
	                                                         .source = "seeds"}, NULL, NULL), 0);
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), NATADV_EEXIST);
	T_CHECK(strstr(err, "exists already") != NULL);
	store_close(s);
}

static void test_split_by_url(void)
{
	fresh_root();
	int h[10] = {0};
	int64_t run;
	store *s = ws_with_urls("ws", 10, h, &run);
	char out[300], err[1024], dir[4200];
	snprintf(out, sizeof out, "%s/out", root);
	scaleout_split_opts o = {.stage = "crawl", .by = "url", .parts = 3, .out_dir = out, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	T_EQ_INT(r.largest, 4);
	long long total = 0;
	for (int k = 0; k < 3; k++) {
		part_dir(dir, sizeof dir, &r, k);
		long long n = q(dir, "SELECT count(*) FROM urls");
		T_EQ_INT(n, k == 0 ? 4 : 3);
		total += n;
	}
	T_EQ_INT(total, 10);
	/* all ids distinct across parts: their sum is 1 + ... + 10 */
	long long sum = 0;
	for (int k = 0; k < 3; k++) {
		part_dir(dir, sizeof dir, &r, k);
		sum += q(dir, "SELECT sum(id) FROM urls");
	}
	T_EQ_INT(sum, 55);
	store_close(s);
}

/* Splits the workspace 'ws' (s, its run) by url into parts parts: ws its
 * folder, d[0..nd) the first nd parts' folders. */
static void split_by_url(store *s, int64_t run, int parts, char ws[300], char (*d)[4200], int nd)
{
	char err[1024];
	snprintf(ws, 300, "%s/ws", root);
	scaleout_split_opts o = {.stage = "crawl", .by = "url", .parts = parts, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	for (int k = 0; k < nd; k++)
		part_dir(d[k], 4200, &r, k);
}

/* In a fresh root, the workspace 'ws' of urls urls (url i on host i, at
 * most 8), split by url into parts parts as split_by_url does. */
static store *ws_split(int urls, int parts, int64_t *run, char ws[300], char (*d)[4200], int nd)
{
	fresh_root();
	int h[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	T_CHECK(urls <= 8);
	store *s = ws_with_urls("ws", urls, h, run);
	split_by_url(s, *run, parts, ws, d, nd);
	return s;
}

/* Records a fetch of url_id in the part at dir, ending fetched with image
 * hash (its bytes written to the part's blob store), or failed. */
static void crawl_in_part(const char *dir, int64_t url_id, const char *hash, const char *bytes)
{
	store *p = NULL;
	char err[512];
	T_EQ_INT(store_open(dir, &p, err, sizeof err), 0);
	int64_t run;
	T_EQ_INT(store_run_begin(p, "crawl", "natadv crawl", &run), 0);
	store_fetch f = {.url_id = url_id, .run_id = run, .attempt = 1, .started = 1e9, .finished = 1e9 + 1,
	                 .http_status = hash ? 200 : 404, .declared_length = -1, .outcome = hash ? "image" : "failed",
	                 .error = hash ? NULL : "HTTP 404"};
	store_image img = {hash, "5ha256", (int64_t)(bytes ? strlen(bytes) : 0), "jpeg", 10, 10, 42};
	if (hash)
		T_EQ_INT(blob_put(store_objects_dir(p), hash, bytes, strlen(bytes), err, sizeof err), 0);
	T_EQ_INT(store_begin(p), 0);
	T_EQ_INT(store_record_attempt(p, &f, hash ? &img : NULL, hash ? "fetched" : "failed", 0, NULL), 0);
	T_EQ_INT(store_commit(p), 0);
	T_EQ_INT(store_run_end(p, run, 0), 0);
	store_close(p);
}

/* The workspace's indexes at dir, names and CREATE text, as one string
 * (static: valid until the next call). */
static const char *indexes(const char *dir)
{
	static char out[16384];
	char path[500];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	out[0] = '\0';
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT group_concat(name || ' ' || tbl_name || ' ' || sql, char(10)) FROM "
	                           "(SELECT * FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name)",
	                       -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* The count of rows of the tables a merge writes, as one number per table. */
static void snapshot(const char *ws, long long v[8])
{
	v[0] = q(ws, "SELECT count(*) FROM urls WHERE state <> 'pending'");
	v[1] = q(ws, "SELECT count(*) FROM fetches");
	v[2] = q(ws, "SELECT count(*) FROM images");
	v[3] = q(ws, "SELECT count(*) FROM image_tags");
	v[4] = q(ws, "SELECT count(*) FROM runs");
	v[5] = q(ws, "SELECT count(*) FROM split_urls");
	v[6] = q(ws, "SELECT count(*) FROM scores");
	v[7] = q(ws, "SELECT count(*) FROM split_parts WHERE merged_at IS NOT NULL");
}

static void test_merge(void)
{
	fresh_root();
	int h[] = {0, 1, 2};
	int64_t run;
	store *s = ws_with_urls("ws", 3, h, &run);
	char ws[300], err[1024], d0[4200], d1[4200], d2[4200];
	snprintf(ws, sizeof ws, "%s/ws", root);
	scaleout_split_opts o = {.stage = "crawl", .by = "url", .parts = 3, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	part_dir(d0, sizeof d0, &r, 0);
	part_dir(d1, sizeof d1, &r, 1);
	part_dir(d2, sizeof d2, &r, 2);
	/* urls 1 and 2 (parts 0 and 1) give the same bytes; url 3 is unfinished */
	const char *H = "00112233445566778899aabbccddeeff";
	crawl_in_part(d0, 1, H, "same bytes");
	crawl_in_part(d1, 2, H, "same bytes");
	scaleout_part_info pi;
	store_merge_result m;
	T_EQ_INT(scaleout_merge(s, run, d0, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.already, 0);
	T_EQ_INT(m.unfinished, 0);
	T_EQ_INT(m.new_images, 1);
	T_EQ_INT(m.fetches, 1);
	T_EQ_INT(m.blobs_linked, 1);
	T_EQ_INT(m.blobs_copied, 0);
	T_EQ_INT(scaleout_merge(s, run, d1, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.new_images, 0);
	T_EQ_INT(m.fetches, 1);
	/* stored once, both fetches in its log, tagged from both urls */
	T_EQ_INT(q(ws, "SELECT count(*) FROM images"), 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches WHERE image_hash = '00112233445566778899aabbccddeeff'"), 2);
	T_EQ_INT(q(ws, "SELECT count(DISTINCT url_id) FROM image_tags"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'fetched' AND image_hash IS NOT NULL"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM images i JOIN fetches f ON f.id = i.first_fetch_id"), 1);
	/* the blob is the part's file, linked, not copied */
	char a[4400], b[4400];
	snprintf(a, sizeof a, "%s/objects/00/112233445566778899aabbccddeeff", ws);
	snprintf(b, sizeof b, "%s/objects/00/112233445566778899aabbccddeeff", d0);
	struct stat sa, sb;
	T_EQ_INT(stat(a, &sa), 0);
	T_EQ_INT(stat(b, &sb), 0);
	T_CHECK(sa.st_ino == sb.st_ino);
	/* runs keep where they ran and which part they came from */
	T_EQ_INT(q(ws, "SELECT count(*) FROM runs WHERE part IS NOT NULL AND part_run_id = 1 AND host IS NOT NULL "
	               "AND merge_run_id IS NOT NULL"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches f JOIN runs r ON r.id = f.run_id WHERE r.part LIKE 'crawl-%/part-000_'"),
	         2);
	/* merged twice: nothing changes */
	long long before[8], after[8];
	snapshot(ws, before);
	T_EQ_INT(scaleout_merge(s, run, d0, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.already, 1);
	T_EQ_INT(scaleout_merge(s, run, d1, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.already, 1);
	/* an unfinished part: not merged, its url stays out */
	T_EQ_INT(scaleout_merge(s, run, d2, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.unfinished, 1);
	snapshot(ws, after);
	for (int i = 0; i < 8; i++)
		T_EQ_INT(after[i], before[i]);
	T_EQ_INT(q(ws, "SELECT url_id FROM split_urls"), 3);
	/* finished now: merged, and nothing is out any more */
	crawl_in_part(d2, 3, NULL, NULL);
	T_EQ_INT(scaleout_merge(s, run, d2, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.unfinished, 0);
	T_EQ_INT(m.urls, 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM split_urls"), 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'failed' AND attempts = 1"), 1);
	T_EQ_INT(store_integrity_check(s), 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	store_close(s);
}

static void test_merge_refusals(void)
{
	fresh_root();
	int h[] = {0, 1};
	int64_t run, run2;
	store *s = ws_with_urls("ws", 2, h, &run);
	store *other = ws_with_urls("other", 2, h, &run2);
	char err[1024], dir[4200], ws[300];
	snprintf(ws, sizeof ws, "%s/ws", root);
	scaleout_split_opts o = {.stage = "crawl", .parts = 1, .run_id = run2};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(other, &o, &r, err, sizeof err), 0);
	part_dir(dir, sizeof dir, &r, 0);
	crawl_in_part(dir, 1, NULL, NULL);
	crawl_in_part(dir, 2, NULL, NULL);
	scaleout_part_info pi;
	store_merge_result m;
	long long before[8], after[8];
	snapshot(ws, before);
	T_EQ_INT(scaleout_merge(s, run, dir, &pi, &m, err, sizeof err), NATADV_EINVAL);
	T_CHECK(strstr(err, "another workspace") != NULL);
	/* a part.json that lies about its parent: the part's own uuid is unknown here */
	char uuid[33];
	T_EQ_INT(store_workspace_uuid(s, uuid), 0);
	snprintf(pi.parent_uuid, sizeof pi.parent_uuid, "%s", uuid);
	T_EQ_INT(scaleout_part_write(dir, &pi, err, sizeof err), 0);
	T_EQ_INT(scaleout_merge(s, run, dir, &pi, &m, err, sizeof err), NATADV_ENOTFOUND);
	T_CHECK(strstr(err, "is not a part of this workspace") != NULL);
	snapshot(ws, after);
	for (int i = 0; i < 8; i++)
		T_EQ_INT(after[i], before[i]);
	/* no part.json at all */
	T_EQ_INT(scaleout_merge(s, run, ws, &pi, &m, err, sizeof err), NATADV_ENOTFOUND);
	store_close(s);
	store_close(other);
}

/* What scaleout_merge_many said of each part, in order. */
struct said {
	int n;
	int rc[8], already[8];
	int64_t unfinished[8], new_images[8], fetches[8], urls[8], new_urls[8];
	char err[8][512];
};

static void said_one(void *ctx, const scaleout_merged *m)
{
	struct said *t = ctx;
	if (t->n >= 8)
		return;
	t->rc[t->n] = m->rc;
	snprintf(t->err[t->n], sizeof t->err[0], "%s", m->rc ? m->err : "");
	if (!m->rc) {
		t->already[t->n] = m->r->already;
		t->unfinished[t->n] = m->r->unfinished;
		t->new_images[t->n] = m->r->new_images;
		t->fetches[t->n] = m->r->fetches;
		t->urls[t->n] = m->r->urls;
		t->new_urls[t->n] = m->r->new_urls;
	}
	t->n++;
}

/* Many parts in one transaction: a foreign and an unfinished part among
 * them are reported and left out, the others merge (the same image from two
 * parts stored once), a part listed twice merges once, and running it all
 * again changes nothing. */
static void test_merge_many(void)
{
	int64_t run, run2;
	char ws[300], err[1024], d[4][4200], foreign[4200];
	store *s = ws_split(4, 4, &run, ws, d, 4);
	int h[] = {0};
	store *other = ws_with_urls("other", 1, h, &run2);
	const char *H = "00112233445566778899aabbccddeeff";
	crawl_in_part(d[0], 1, H, "same bytes");
	crawl_in_part(d[1], 2, H, "same bytes");
	crawl_in_part(d[3], 4, "ffeeddccbbaa99887766554433221100", "other bytes");
	/* a part of another workspace whose part.json names this one */
	scaleout_split_opts o2 = {.stage = "crawl", .parts = 1, .run_id = run2};
	scaleout_split_result r2;
	T_EQ_INT(scaleout_split(other, &o2, &r2, err, sizeof err), 0);
	part_dir(foreign, sizeof foreign, &r2, 0);
	crawl_in_part(foreign, 1, NULL, NULL);
	scaleout_part_info pi;
	T_EQ_INT(scaleout_part_read(foreign, &pi, err, sizeof err), 0);
	T_EQ_INT(store_workspace_uuid(s, pi.parent_uuid), 0);
	T_EQ_INT(scaleout_part_write(foreign, &pi, err, sizeof err), 0);
	char *dirs[] = {d[0], foreign, d[2], d[1], d[3], d[0]};
	struct said t = {0};
	int64_t linked = 0, copied = 0;
	char ix[16384];
	snprintf(ix, sizeof ix, "%s", indexes(ws));
	T_CHECK(strstr(ix, "urls_pending urls CREATE INDEX urls_pending ON urls(state, id)") != NULL);
	/* 3 of the 4 urls settled: their indexes are built again, the same */
	T_EQ_INT(scaleout_merge_many(s, run, dirs, 6, said_one, &t, &linked, &copied), 0);
	T_EQ_STR(indexes(ws), ix);
	T_EQ_INT(t.n, 6);
	T_EQ_INT(t.rc[0], 0); /* d0 */
	T_EQ_INT(t.new_images[0], 1);
	T_EQ_INT(t.rc[1], NATADV_ENOTFOUND); /* the foreign part */
	T_CHECK(strstr(t.err[1], "is not a part of this workspace") != NULL);
	T_EQ_INT(t.unfinished[2], 1); /* d2 */
	T_EQ_INT(t.new_images[3], 0); /* d1: the same image */
	T_EQ_INT(t.fetches[3], 1);
	T_EQ_INT(t.new_images[4], 1); /* d3 */
	T_EQ_INT(t.already[5], 1); /* d0 again */
	T_EQ_INT(t.fetches[5], 0);
	T_EQ_INT(linked, 2);
	T_EQ_INT(copied, 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM images"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches WHERE image_hash = '00112233445566778899aabbccddeeff'"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM split_parts WHERE merged_at IS NOT NULL"), 3);
	T_EQ_INT(q(ws, "SELECT url_id FROM split_urls"), 3);
	T_EQ_INT(q(ws, "SELECT count(DISTINCT part) FROM runs WHERE part IS NOT NULL"), 3);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches f JOIN runs r ON r.id = f.run_id AND r.part_run_id = 1"), 3);
	/* all of it again: nothing changes */
	long long before[8], after[8];
	snapshot(ws, before);
	struct said t2 = {0};
	T_EQ_INT(scaleout_merge_many(s, run, dirs, 6, said_one, &t2, NULL, NULL), 0);
	T_EQ_INT(t2.rc[1], NATADV_ENOTFOUND);
	T_EQ_INT(t2.already[0] + t2.already[3] + t2.already[4] + t2.already[5], 4);
	T_EQ_INT(t2.unfinished[2], 1);
	snapshot(ws, after);
	for (int i = 0; i < 8; i++)
		T_EQ_INT(after[i], before[i]);
	T_EQ_STR(indexes(ws), ix);
	T_EQ_INT(store_integrity_check(s), 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	store_close(s);
	store_close(other);
}

/* A merge puts a crawl part's images in by their first fetch, in hash
 * order, and each part's count of new images follows the row that went
 * in; images whose first fetch is none of their part's (none at all, or
 * out of its range) still go in, part by part. */
static void test_merge_first_fetch(void)
{
	int64_t run;
	char ws[300], d[5][4200];
	store *s = ws_split(5, 5, &run, ws, d, 5);
	const char *H = "00112233445566778899aabbccddeeff", *G = "ffeeddccbbaa99887766554433221100";
	crawl_in_part(d[0], 1, H, "same bytes");
	crawl_in_part(d[1], 2, H, "same bytes");
	crawl_in_part(d[2], 3, G, "other bytes");
	crawl_in_part(d[3], 4, "0123456789abcdef0123456789abcdef", "third bytes");
	crawl_in_part(d[4], 5, "fedcba9876543210fedcba9876543210", "fourth bytes");
	T_EQ_INT(q(d[1], "UPDATE images SET first_fetch_id = NULL RETURNING 1"), 1);
	T_EQ_INT(q(d[3], "UPDATE images SET first_fetch_id = 99 RETURNING 1"), 1);
	T_EQ_INT(q(d[4], "UPDATE images SET first_fetch_id = NULL RETURNING 1"), 1);
	char *dirs[] = {d[0], d[1], d[2], d[3], d[4]};
	struct said t = {0};
	int64_t linked = 0, copied = 0;
	T_EQ_INT(scaleout_merge_many(s, run, dirs, 5, said_one, &t, &linked, &copied), 0);
	T_EQ_INT(t.n, 5);
	for (int k = 0; k < 5; k++)
		T_EQ_INT(t.rc[k], 0);
	T_EQ_INT(t.new_images[0], 1); /* H, by its first fetch */
	T_EQ_INT(t.new_images[1], 0); /* H again, no first fetch */
	T_EQ_INT(t.new_images[2], 1); /* G, by its first fetch */
	T_EQ_INT(t.new_images[3], 1); /* a first fetch out of its part's range */
	T_EQ_INT(t.new_images[4], 1); /* no first fetch */
	T_EQ_INT(q(ws, "SELECT count(*) FROM images"), 4);
	/* H and G are their parts' rows: each one's first fetch is its part's, moved up */
	T_EQ_INT(q(ws, "SELECT count(*) FROM images i JOIN fetches f ON f.id = i.first_fetch_id JOIN runs r ON "
	               "r.id = f.run_id WHERE (i.hash = '00112233445566778899aabbccddeeff' AND r.part LIKE "
	               "'%part-0000') OR (i.hash = 'ffeeddccbbaa99887766554433221100' AND r.part LIKE '%part-0002')"),
	         2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM images WHERE (hash = '0123456789abcdef0123456789abcdef' AND "
	               "first_fetch_id > 99) OR (hash = 'fedcba9876543210fedcba9876543210' AND first_fetch_id IS NULL)"),
	         2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches"), 5);
	store_close(s);
}

/* A merge settling few of the workspace's urls keeps their indexes (row
 * by row upkeep); a failed one rolls back with them intact. */
static void test_merge_small(void)
{
	int64_t run;
	char ws[300], d[3][4200], *d0 = d[0], *d1 = d[1], *d2 = d[2];
	store *s = ws_split(8, 4, &run, ws, d, 3);
	T_EQ_INT(q(d0, "SELECT count(*) FROM urls"), 2);
	crawl_in_part(d0, q(d0, "SELECT min(id) FROM urls"), "00112233445566778899aabbccddee00", "a");
	crawl_in_part(d0, q(d0, "SELECT max(id) FROM urls"), NULL, NULL);
	crawl_in_part(d1, q(d1, "SELECT min(id) FROM urls"), "00112233445566778899aabbccddee01", "b");
	crawl_in_part(d1, q(d1, "SELECT max(id) FROM urls"), NULL, NULL);
	char ix[16384];
	snprintf(ix, sizeof ix, "%s", indexes(ws));
	T_CHECK(strstr(ix, "urls_due urls CREATE INDEX urls_due ON urls(next_attempt_at, id) WHERE state = 'pending'"));
	/* no run 999 to record it under: fails at the end, rolled back (2 of 8
	 * urls: row by row) */
	store_merge_result mr;
	T_CHECK(store_part_merge(s, 999, d0, &mr) != 0);
	T_EQ_STR(indexes(ws), ix);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'pending'"), 8);
	T_EQ_INT(store_part_merge(s, run, d0, &mr), 0);
	T_EQ_INT(mr.urls, 2);
	T_EQ_STR(indexes(ws), ix);
	/* two parts, 4 of 8 urls: their indexes dropped and built again, then
	 * rolled back with the failed merge; then merged */
	crawl_in_part(d2, q(d2, "SELECT min(id) FROM urls"), NULL, NULL);
	crawl_in_part(d2, q(d2, "SELECT max(id) FROM urls"), NULL, NULL);
	const char *both[] = {d1, d2};
	store_merge_result mr2[2];
	T_CHECK(store_parts_merge(s, 999, both, 2, mr2) != 0);
	T_EQ_STR(indexes(ws), ix);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'pending'"), 6);
	T_EQ_INT(store_parts_merge(s, run, both, 2, mr2), 0);
	T_EQ_INT(mr2[0].rc + mr2[1].rc, 0);
	T_EQ_INT(mr2[0].urls + mr2[1].urls, 4);
	T_EQ_STR(indexes(ws), ix);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls INDEXED BY urls_pending WHERE state = 'pending'"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls INDEXED BY urls_due WHERE state = 'pending' AND next_attempt_at > -1e18"), 2);
	T_EQ_INT(store_integrity_check(s), 0);
	store_close(s);
}

static void one_id(void *ctx, const store_pending *p)
{
	int64_t *ids = ctx;
	ids[++ids[0]] = p->id;
}

/* Settles every url of the part at dir, failed (one transaction). */
static void crawl_all_failed(const char *dir)
{
	store *p = NULL;
	char err[512];
	T_EQ_INT(store_open(dir, &p, err, sizeof err), 0);
	int64_t run, n = 0;
	T_EQ_INT(store_count_urls(p, "pending", &n), 0);
	int64_t *ids = calloc((size_t)n + 1, sizeof *ids);
	T_CHECK(ids != NULL);
	T_EQ_INT(store_run_begin(p, "crawl", "natadv crawl", &run), 0);
	T_CHECK(store_frontier_scan(p, 0, 1e12, (int)n, one_id, ids) >= 0);
	T_EQ_INT(store_begin(p), 0);
	for (int64_t i = 1; i <= ids[0]; i++) {
		store_fetch f = {.url_id = ids[i], .run_id = run, .attempt = 1, .started = 1e9, .finished = 1e9 + 1,
		                 .http_status = 404, .declared_length = -1, .outcome = "failed", .error = "HTTP 404"};
		T_EQ_INT(store_record_attempt(p, &f, NULL, "failed", 0, NULL), 0);
	}
	T_EQ_INT(store_commit(p), 0);
	T_EQ_INT(store_run_end(p, run, 0), 0);
	free(ids);
	store_close(p);
}

/* A merge killed (kill -9) at any moment, its indexes dropped or not,
 * leaves the workspace as it was: indexes, urls, no part merged. */
static void test_merge_killed(void)
{
	fresh_root();
	enum { N = 6000 };
	int *h = calloc(N, sizeof *h);
	T_CHECK(h != NULL);
	int64_t run;
	store *s = ws_with_urls("ws", N, h, &run);
	free(h);
	char ws[300], err[1024], d[2][4200];
	split_by_url(s, run, 2, ws, d, 2);
	store_close(s);
	for (int k = 0; k < 2; k++)
		crawl_all_failed(d[k]);
	char ix[16384];
	snprintf(ix, sizeof ix, "%s", indexes(ws));
	const char *dirs[] = {d[0], d[1]};
	int killed_before_commit = 0;
	for (int delay_ms = 1; delay_ms < 5000; delay_ms = delay_ms * 5 / 4 + 1) {
		pid_t pid = fork();
		T_CHECK(pid >= 0);
		if (pid == 0) {
			store *c = NULL;
			store_merge_result mr[2];
			int rc = store_open(ws, &c, err, sizeof err) || store_parts_merge(c, run, dirs, 2, mr);
			_exit(rc ? 1 : 0);
		}
		struct timespec ts = {0, delay_ms * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st = 0;
		waitpid(pid, &st, 0);
		T_EQ_STR(indexes(ws), ix);
		long long merged = q(ws, "SELECT count(*) FROM split_parts WHERE merged_at IS NOT NULL");
		T_CHECK(merged == 0 || merged == 2); /* killed before its commit, or after */
		if (merged == 0)
			T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'pending'"), N);
		T_EQ_INT(q(ws, "SELECT count(*) FROM urls INDEXED BY urls_pending WHERE state = 'pending'"),
		         q(ws, "SELECT count(*) FROM urls NOT INDEXED WHERE state = 'pending'"));
		T_EQ_INT(q(ws, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
		if (merged)
			break;
		killed_before_commit += WIFSIGNALED(st);
	}
	T_CHECK(killed_before_commit > 0);
	/* then run again: it completes */
	T_EQ_INT(store_open(ws, &s, err, sizeof err), 0);
	store_merge_result mr[2];
	T_EQ_INT(store_parts_merge(s, run, dirs, 2, mr), 0);
	T_EQ_INT(mr[0].rc + mr[1].rc, 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'pending'"), 0);
	T_EQ_STR(indexes(ws), ix);
	store_close(s);
}

/* Adds url (host: its host) to the workspace at dir as a candidate; its id. */
static int64_t add_url(const char *dir, const char *url, const char *host)
{
	store *p = NULL;
	char err[512];
	int64_t run = 0;
	T_EQ_INT(store_open(dir, &p, err, sizeof err), 0);
	T_EQ_INT(store_run_begin(p, "discover", "natadv discover", &run), 0);
	store_candidate c = {.url = url, .host = host, .wnid = "n01440764", .source = "seeds", .license = "cc0"};
	T_EQ_INT(store_candidate_add(p, run, &c, NULL, NULL), 0);
	T_EQ_INT(store_run_end(p, run, 0), 0);
	store_close(p);
	char path[4300];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t id = -1;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT id FROM urls WHERE url = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return id;
}

/* What the set-based merge must get right: urls a part added (found by
 * text, whatever their id in the part; one row when two parts added it,
 * the first part's state), a url the workspace gained meanwhile settled by
 * the part that has it, and a part whose rows refer to a missing image, or
 * whose blob cannot be linked, left out while the others merge. */
static void test_merge_parts_apart(void)
{
	int64_t run;
	char ws[300], d[5][4200];
	store *s = ws_split(5, 5, &run, ws, d, 5);
	for (int k = 0; k < 5; k++)
		T_EQ_INT(q(d[k], "SELECT id FROM urls"), k + 1);
	/* parts 0 and 1 both add the same url: id 2 in part 0 (url 2 here) */
	const char *NEW = "http://new.example/x.jpg";
	int64_t n0 = add_url(d[0], NEW, "http://new.example"), n1 = add_url(d[1], NEW, "http://new.example");
	T_EQ_INT(n0, 2);
	crawl_in_part(d[0], 1, "0a000000000000000000000000000001", "a");
	crawl_in_part(d[0], n0, "0b000000000000000000000000000002", "b");
	crawl_in_part(d[1], 2, "0c000000000000000000000000000003", "c");
	crawl_in_part(d[1], n1, NULL, NULL);
	/* a url this workspace gained since (id 6 here, 4 in part 2) */
	const char *LATE = "http://late.example/y.jpg";
	T_EQ_INT(store_candidate_add(s, run, &(store_candidate){.url = LATE, .host = "http://late.example",
	         .wnid = "n01440764", .source = "seeds", .license = "cc0"}, NULL, NULL), 0);
	int64_t l2 = add_url(d[2], LATE, "http://late.example");
	T_EQ_INT(l2, 4);
	crawl_in_part(d[2], 3, "0d000000000000000000000000000004", "d");
	crawl_in_part(d[2], l2, "0e000000000000000000000000000005", "e");
	/* part 3: a fetch of an image it does not have */
	crawl_in_part(d[3], 4, "0f000000000000000000000000000006", "f");
	ws_exec(d[3], "INSERT INTO fetches(url_id, attempt, started_at, finished_at, outcome, image_hash) "
	        "VALUES(4, 2, 'x', 'x', 'image', 'ffffffffffffffffffffffffffffffff')");
	/* part 4: its blob is gone */
	crawl_in_part(d[4], 5, "10000000000000000000000000000007", "g");
	char blob[4400];
	snprintf(blob, sizeof blob, "%s/objects/10/000000000000000000000000000007", d[4]);
	T_EQ_INT(unlink(blob), 0);
	char *dirs[] = {d[0], d[1], d[2], d[3], d[4]};
	struct said t = {0};
	T_EQ_INT(scaleout_merge_many(s, run, dirs, 5, said_one, &t, NULL, NULL), 0);
	T_EQ_INT(t.n, 5);
	T_EQ_INT(t.rc[0] + t.rc[1] + t.rc[2], 0);
	T_EQ_INT(t.new_urls[0], 1);
	T_EQ_INT(t.new_urls[1], 0);
	T_EQ_INT(t.urls[0], 1);
	T_EQ_INT(t.urls[2], 2);
	T_EQ_INT(t.fetches[1], 2);
	T_EQ_INT(t.rc[3], NATADV_EINVAL);
	T_CHECK(strstr(t.err[3], "FOREIGN KEY") != NULL);
	T_EQ_INT(t.rc[4], NATADV_EIO);
	T_CHECK(strstr(t.err[4], "cannot link") != NULL);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE url = 'http://new.example/x.jpg' AND state = 'fetched' "
	               "AND image_hash = '0b000000000000000000000000000002'"), 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches f JOIN urls u ON u.id = f.url_id "
	               "WHERE u.url = 'http://new.example/x.jpg'"), 2);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE url = 'http://late.example/y.jpg' AND id = 6 "
	               "AND state = 'fetched' AND image_hash = '0e000000000000000000000000000005'"), 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches WHERE url_id = 6"), 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM image_tags WHERE url_id = 6"), 1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM fetches WHERE url_id = 2 AND image_hash = '0c000000000000000000000000000003'"),
	         1);
	T_EQ_INT(q(ws, "SELECT count(*) FROM images"), 5);
	T_EQ_INT(q(ws, "SELECT group_concat(url_id, '') FROM (SELECT url_id FROM split_urls ORDER BY url_id)"), 45);
	T_EQ_INT(q(ws, "SELECT count(*) FROM urls WHERE state = 'pending'"), 2);
	T_EQ_INT(store_integrity_check(s), 0);
	T_EQ_INT(q(ws, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	store_close(s);
}

static void test_split_score(void)
{
	fresh_root();
	int64_t run;
	store *s = ws_with_urls("ws", 0, NULL, &run);
	char ws[300], err[1024], dir[4200], path[4400];
	snprintf(ws, sizeof ws, "%s/ws", root);
	const char *id = "1111111111111111111111111111111111111111111111111111111111111111";
	store_model m = {.id = id, .name = "demo", .arch = "resnet50", .classes = 1000, .bytes = 5,
	                 .preprocessing = "torchvision-eval"};
	T_EQ_INT(store_model_add(s, run, &m), 0);
	snprintf(path, sizeof path, "%s/models/%s.safetensors", ws, id);
	FILE *f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs("model", f);
		fclose(f);
	}
	/* seven fetched images, each from its own url */
	for (int i = 0; i < 7; i++) {
		char url[64], hash[33], bytes[16];
		snprintf(url, sizeof url, "http://h.example/%d.jpg", i);
		snprintf(hash, sizeof hash, "%02d%030d", i * 11, i);
		snprintf(bytes, sizeof bytes, "image %d", i);
		store_candidate c = {.url = url, .host = "http://h.example", .wnid = "n01440764", .source = "seeds"};
		T_EQ_INT(store_candidate_add(s, run, &c, NULL, NULL), 0);
		T_EQ_INT(blob_put(store_objects_dir(s), hash, bytes, strlen(bytes), err, sizeof err), 0);
		store_fetch fe = {.url_id = i + 1, .run_id = run, .attempt = 1, .http_status = 200,
		                  .declared_length = -1, .outcome = "image"};
		store_image img = {hash, "5ha256", (int64_t)strlen(bytes), "jpeg", 10, 10, 42};
		T_EQ_INT(store_begin(s), 0);
		T_EQ_INT(store_record_attempt(s, &fe, &img, "fetched", 0, NULL), 0);
		T_EQ_INT(store_commit(s), 0);
	}
	scaleout_split_opts o = {.stage = "score", .model = "demo", .parts = 3, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	T_EQ_INT(r.items, 7);
	long long total = 0;
	for (int k = 0; k < 3; k++) {
		part_dir(dir, sizeof dir, &r, k);
		long long n = q(dir, "SELECT count(*) FROM images");
		T_CHECK(n == 2 || n == 3);
		total += n;
		T_EQ_INT(q(dir, "SELECT count(*) FROM image_tags t JOIN urls u ON u.id = t.url_id"), n);
		T_EQ_INT(q(dir, "SELECT count(*) FROM models WHERE name = 'demo'"), 1);
		snprintf(path, sizeof path, "%s/models/%s.safetensors", dir, id);
		T_EQ_INT(access(path, R_OK), 0);
	}
	T_EQ_INT(total, 7);
	/* contiguous runs of the hash order: part 0 holds the smallest hashes */
	part_dir(dir, sizeof dir, &r, 0);
	T_EQ_INT(q(dir, "SELECT count(*) FROM images WHERE hash < '22'"), 2);
	snprintf(path, sizeof path, "%s/objects/00/000000000000000000000000000000", dir);
	char src[4400];
	snprintf(src, sizeof src, "%s/objects/00/000000000000000000000000000000", ws);
	struct stat sa, sb;
	T_EQ_INT(stat(path, &sa), 0);
	T_EQ_INT(stat(src, &sb), 0);
	T_CHECK(sa.st_ino == sb.st_ino);
	T_EQ_INT(q(ws, "SELECT count(*) FROM split_images"), 7);
	/* the parent's own score leaves them to their parts */
	int64_t unscored = -1;
	T_EQ_INT(store_count_unscored(s, id, &unscored), 0);
	T_EQ_INT(unscored, 0);
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), NATADV_ENOTFOUND);
	store_close(s);
}

/* Parts on another file system (tmpfs): blobs are copied, not linked. */
static void test_across_file_systems(void)
{
	fresh_root();
	char shm[64] = "/dev/shm/natadv-test-scaleout.XXXXXX", err[1024], dir[4200], ws[300];
	struct stat a, b;
	if (!mkdtemp(shm) || stat(shm, &a) != 0 || stat(root, &b) != 0 || a.st_dev == b.st_dev) {
		T_CHECK(1); /* no second file system here: nothing to check */
		return;
	}
	int h[] = {0};
	int64_t run;
	store *s = ws_with_urls("ws", 1, h, &run);
	snprintf(ws, sizeof ws, "%s/ws", root);
	scaleout_split_opts o = {.stage = "crawl", .parts = 1, .out_dir = shm, .run_id = run};
	scaleout_split_result r;
	T_EQ_INT(scaleout_split(s, &o, &r, err, sizeof err), 0);
	part_dir(dir, sizeof dir, &r, 0);
	crawl_in_part(dir, 1, "ffeeddccbbaa99887766554433221100", "copied bytes");
	scaleout_part_info pi;
	store_merge_result m;
	T_EQ_INT(scaleout_merge(s, run, dir, &pi, &m, err, sizeof err), 0);
	T_EQ_INT(m.blobs_copied, 1);
	T_EQ_INT(m.blobs_linked, 0);
	char path[4400], got[64] = "";
	snprintf(path, sizeof path, "%s/objects/ff/eeddccbbaa99887766554433221100", ws);
	FILE *f = fopen(path, "rb");
	T_CHECK(f != NULL);
	if (f) {
		T_CHECK(fgets(got, sizeof got, f) != NULL);
		fclose(f);
	}
	T_EQ_STR(got, "copied bytes");
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", shm);
	T_EQ_INT(system(cmd), 0);
}

static void test_plan_hosts(void)
{
	int64_t n[] = {1, 7, 3, 3, 2};
	int part_of[5];
	T_EQ_INT(scaleout_plan_hosts(n, 5, 2, part_of), 0);
	/* 7 -> 0; 3 (host 2) -> 1; 3 (host 3) -> 1 (6); 2 -> 1 (8); 1 -> 0 (8) */
	T_EQ_INT(part_of[1], 0);
	T_EQ_INT(part_of[2], 1);
	T_EQ_INT(part_of[3], 1);
	T_EQ_INT(part_of[4], 1);
	T_EQ_INT(part_of[0], 0);
}

int main(void)
{
	T_RUN(test_plan_hosts);
	T_RUN(test_split_by_host);
	T_RUN(test_split_by_url);
	T_RUN(test_merge);
	T_RUN(test_merge_refusals);
	T_RUN(test_merge_many);
	T_RUN(test_merge_first_fetch);
	T_RUN(test_merge_small);
	T_RUN(test_merge_killed);
	T_RUN(test_merge_parts_apart);
	T_RUN(test_split_score);
	T_RUN(test_across_file_systems);
	return T_DONE();
}
