/* test_store.c — the workspace: creation and migration, refusing a newer
 * schema, candidates and tags, recording attempts, the blob store, and the
 * private-address table of the crawler. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "crawler/crawler.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "tests/t.h"

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/natadv-test-store.XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
}

static int count_cb(void *ctx, const store_class *c)
{
	(void)c;
	(*(int *)ctx)++;
	return 0;
}

static void test_create_and_open(void)
{
	fresh_dir();
	char ws[300], err[512];
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_open(ws, &s, err, sizeof err), NATADV_ENOTFOUND);
	T_CHECK(strstr(err, "no natadv workspace at") != NULL);
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	T_EQ_INT(store_schema_version(s), store_schema_latest());
	int n = 0;
	T_EQ_INT(store_classes_each(s, NULL, count_cb, &n), 0);
	T_EQ_INT(n, 1000);
	n = 0;
	T_EQ_INT(store_classes_each(s, "imagenet-a", count_cb, &n), 0);
	T_EQ_INT(n, 200);
	T_EQ_INT(store_classes_each(s, "nope", count_cb, &n), NATADV_ENOTFOUND);
	T_EQ_INT(store_class_known(s, "n01440764"), 1);
	T_EQ_INT(store_class_known(s, "n99999999"), 0);
	T_EQ_INT(store_integrity_check(s), 0);
	store_close(s);
	/* a database from a newer natadv is refused, not touched */
	char db[400];
	snprintf(db, sizeof db, "%s/natadv.db", ws);
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(db, &raw), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	T_EQ_INT(store_open(ws, &s, err, sizeof err), NATADV_ESCHEMA);
	T_CHECK(strstr(err, "newer") != NULL);
}

/* Whether the program of sql on db opens a temporary index (SQLite does
 * for a CHECK(x IN (...)) at every row it checks). */
static int opens_ephemeral(sqlite3 *db, const char *sql)
{
	char *explain = sqlite3_mprintf("EXPLAIN %s", sql);
	sqlite3_stmt *st = NULL;
	int found = 0;
	T_EQ_INT(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		found |= !strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral");
	sqlite3_finalize(st);
	sqlite3_free(explain);
	return found;
}

/* Migration 11: urls.state's and scores.status's CHECK lists as
 * comparisons, in a new workspace and in one of version 10 migrated on
 * opening; the rule still refuses a value not in the list, and an update
 * of a url's state no longer builds a temporary index per row. */
static void test_check_lists(void)
{
	fresh_dir();
	char ws[300], err[512], db[400];
	snprintf(ws, sizeof ws, "%s/ws", dir);
	snprintf(db, sizeof db, "%s/natadv.db", ws);
	const char *upd = "UPDATE urls SET state = 'fetched' WHERE id = 1";
	const char *ins = "INSERT INTO scores(image_hash, model_id, status, scored_at) VALUES('a', 'b', 'scored', 'x')";
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	T_EQ_INT(opens_ephemeral(s->db, upd), 0);
	T_EQ_INT(opens_ephemeral(s->db, ins), 0);
	T_EQ_INT(sqlite3_exec(s->db, "INSERT INTO urls(url, host, state, added_at) VALUES('http://a/1', 'a', 'fetched', 'x')",
	                      NULL, NULL, NULL), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(s->db, "INSERT INTO urls(url, host, state, added_at) VALUES('http://a/2', 'a', 'done', 'x')",
	                      NULL, NULL, NULL), SQLITE_CONSTRAINT);
	store_close(s);
	/* a version 10 workspace: its text as 001 and 002 wrote it */
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(db, &raw), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(raw, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = replace(sql, "
	                           "'CHECK(state = ''pending'' OR state = ''fetched'' OR state = ''failed'' OR "
	                           "state = ''opted_out'')', 'CHECK(state IN (''pending'', ''fetched'', ''failed'', "
	                           "''opted_out''))') WHERE name = 'urls'; PRAGMA schema_version = 1000; "
	                           "PRAGMA writable_schema = RESET; PRAGMA user_version = 10;", NULL, NULL, NULL), SQLITE_OK);
	T_EQ_INT(opens_ephemeral(raw, upd), 1);
	sqlite3_close(raw);
	T_EQ_INT(store_open(ws, &s, err, sizeof err), 0);
	T_EQ_INT(store_schema_version(s), store_schema_latest());
	T_EQ_INT(opens_ephemeral(s->db, upd), 0);
	T_EQ_INT(sqlite3_exec(s->db, "UPDATE urls SET state = 'done' WHERE url = 'http://a/1'", NULL, NULL, NULL),
	         SQLITE_CONSTRAINT);
	T_EQ_INT(store_integrity_check(s), 0);
	store_close(s);
}

static void test_candidates_and_attempts(void)
{
	fresh_dir();
	char ws[300], err[512];
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	int64_t run = 0;
	T_EQ_INT(store_run_begin(s, "test", "test args", &run), 0);
	store_candidate c = {"http://a.example/x.jpg", "http://a.example", "n01440764", "seeds", "tench photo",
	                     "http://a.example/", "CC0", "me", NULL, NULL, NULL, NULL, 0, NULL};
	int nu = -1, nt = -1;
	T_EQ_INT(store_candidate_add(s, run, &c, &nu, &nt), 0);
	T_EQ_INT(nu, 1);
	T_EQ_INT(nt, 1);
	T_EQ_INT(store_candidate_add(s, run, &c, &nu, &nt), 0);
	T_EQ_INT(nu, 0);
	T_EQ_INT(nt, 0);
	c.wnid = "n01443537";
	T_EQ_INT(store_candidate_add(s, run, &c, &nu, &nt), 0);
	T_EQ_INT(nu, 0);
	T_EQ_INT(nt, 1);
	int64_t n = 0;
	T_EQ_INT(store_count_urls(s, "pending", &n), 0);
	T_EQ_INT(n, 1);

	store_fetch f = {.url_id = 1, .run_id = run, .attempt = 1, .started = 1, .finished = 2,
	                 .http_status = 500, .declared_length = -1, .outcome = "retry", .error = "HTTP 500"};
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_record_attempt(s, &f, NULL, "pending", 4e9, NULL), 0);
	T_EQ_INT(store_commit(s), 0);
	double due = 0;
	T_EQ_INT(store_frontier_next_due(s, &due), 0);
	T_CHECK(due == 4e9);
	store_image img = {"0123456789abcdef0123456789abcdef", "00", 10, "jpeg", 100, 80, 0xfedcba9876543210ull};
	f.attempt = 2;
	f.http_status = 200;
	f.outcome = "image";
	f.error = NULL;
	int is_new = 0;
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_record_attempt(s, &f, &img, "fetched", 0, &is_new), 0);
	T_EQ_INT(store_commit(s), 0);
	T_EQ_INT(is_new, 1);
	T_EQ_INT(store_frontier_next_due(s, &due), NATADV_ENOTFOUND);
	store_counts tot;
	T_EQ_INT(store_stats(s, &tot, NULL, NULL), 0);
	T_EQ_INT(tot.urls, 1);
	T_EQ_INT(tot.fetched, 1);
	T_EQ_INT(tot.images, 1);
	/* a class added after the fetch tags the image too */
	c.wnid = "n01484850";
	T_EQ_INT(store_candidate_add(s, run, &c, &nu, &nt), 0);
	int hit = 0;
	T_EQ_INT(store_image_exists(s, img.hash, &hit), 0);
	T_EQ_INT(hit, 1);
	T_EQ_INT(store_run_end(s, run, 0), 0);
	T_EQ_INT(store_integrity_check(s), 0);
	store_close(s);
}

static void test_blobs(void)
{
	fresh_dir();
	char objdir[300], err[512];
	snprintf(objdir, sizeof objdir, "%s/objects", dir);
	T_EQ_INT(mkdir(objdir, 0777), 0);
	int cleaned = -1;
	T_EQ_INT(blob_clean_tmp(objdir, &cleaned), 0); /* creates tmp/ */
	T_EQ_INT(cleaned, 0);
	const char *hex = "ab0123456789abcdef0123456789abcd";
	T_EQ_INT(blob_put(objdir, hex, "hello", 5, err, sizeof err), 0);
	T_EQ_INT(blob_put(objdir, hex, "hello", 5, err, sizeof err), 0); /* idempotent */
	buf p;
	buf_init(&p, 4096);
	T_EQ_INT(blob_path(objdir, hex, &p), 0);
	struct stat sb;
	T_EQ_INT(stat(buf_cstr(&p), &sb), 0);
	T_EQ_INT(sb.st_size, 5);
	char got[16] = "";
	FILE *bf = fopen(buf_cstr(&p), "rb");
	T_CHECK(bf != NULL);
	if (bf) {
		T_EQ_INT(fread(got, 1, sizeof got - 1, bf), 5);
		fclose(bf);
	}
	T_EQ_STR(got, "hello"); /* the blob holds the bytes put */
	T_CHECK(strstr(buf_cstr(&p), "/ab/0123456789abcdef0123456789abcd") != NULL);
	T_EQ_INT(blob_put(objdir, "../../etc/passwd", "x", 1, err, sizeof err), NATADV_EINVAL);
	T_EQ_INT(blob_path(objdir, "ABC", &p), NATADV_EINVAL);
	char tmp[400];
	snprintf(tmp, sizeof tmp, "%s/tmp/leftover", objdir);
	FILE *f = fopen(tmp, "w");
	T_CHECK(f != NULL);
	if (f)
		fclose(f);
	T_EQ_INT(blob_clean_tmp(objdir, &cleaned), 0);
	T_EQ_INT(cleaned, 1);
	T_EQ_INT(blob_sync(objdir), 0);
	buf_release(&p);
}

static int v4(const char *a)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	inet_pton(AF_INET, a, &in.sin_addr);
	return crawl_addr_is_private(&in, sizeof in);
}

static int v6(const char *a)
{
	struct sockaddr_in6 in = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, a, &in.sin6_addr);
	return crawl_addr_is_private(&in, sizeof in);
}

static void test_private_addresses(void)
{
	const char *priv4[] = {"127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
	                       "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
	                       "198.18.0.1", "192.0.0.170"};
	const char *pub4[] = {"8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1", "1.1.1.1",
	                      "169.255.0.1", "198.20.0.1"};
	for (size_t i = 0; i < sizeof priv4 / sizeof *priv4; i++)
		if (!v4(priv4[i])) {
			fprintf(stderr, "%s should be private\n", priv4[i]);
			T_CHECK(0);
		}
	for (size_t i = 0; i < sizeof pub4 / sizeof *pub4; i++)
		if (v4(pub4[i])) {
			fprintf(stderr, "%s should be public\n", pub4[i]);
			T_CHECK(0);
		}
	T_EQ_INT(v6("::1"), 1);
	T_EQ_INT(v6("::"), 1);
	T_EQ_INT(v6("fe80::1"), 1);
	T_EQ_INT(v6("fd00:ec2::254"), 1);
	T_EQ_INT(v6("fc00::1"), 1);
	T_EQ_INT(v6("::ffff:127.0.0.1"), 1);
	T_EQ_INT(v6("::ffff:10.0.0.1"), 1);
	T_EQ_INT(v6("ff02::1"), 1);
	T_EQ_INT(v6("fec0::1"), 1);
	T_EQ_INT(v6("64:ff9b:1::a00:1"), 1);
	T_EQ_INT(v6("64:ff9b::808:808"), 0);
	T_EQ_INT(v6("2001:4860:4860::8888"), 0);
	T_EQ_INT(v6("::ffff:8.8.8.8"), 0);
}

/* A model's name is [A-Za-z0-9._-]+, not "." or "..", whatever the path. */
static void test_model_names(void)
{
	fresh_dir();
	char ws[300], err[512];
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	if (!s)
		return;
	const char *bad[] = {"../../x", "a/b", ".", "..", "", "a b", "x\n", "caf\xc3\xa9"};
	store_model m = {.id = "0000000000000000000000000000000000000000000000000000000000000000", .arch = "resnet50",
	                 .classes = 1000, .bytes = 1, .preprocessing = "p"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		m.name = bad[i];
		T_EQ_INT(store_model_name_valid(bad[i]), 0);
		T_EQ_INT(store_model_add(s, 0, &m), NATADV_EINVAL);
		T_CHECK(strstr(store_errmsg(s), "bad model name") != NULL);
		T_EQ_INT(store_model_import(s, 0, "/nonexistent", &m), NATADV_EINVAL);
	}
	char longest[130];
	memset(longest, 'x', sizeof longest);
	longest[128] = '\0';
	T_EQ_INT(store_model_name_valid(longest), 1);
	longest[128] = 'x';
	longest[129] = '\0';
	T_EQ_INT(store_model_name_valid(longest), 0);
	m.name = "resnet50-v1.5_tv";
	T_EQ_INT(store_model_add(s, 0, &m), 0);
	buf text;
	buf_init(&text, 1 << 16);
	store_model back;
	T_EQ_INT(store_model_get(s, "resnet50-v1.5_tv", &back, &text), 0);
	buf_release(&text);
	store_close(s);
}

int main(void)
{
	T_RUN(test_create_and_open);
	T_RUN(test_check_lists);
	T_RUN(test_candidates_and_attempts);
	T_RUN(test_blobs);
	T_RUN(test_private_addresses);
	T_RUN(test_model_names);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf /tmp/natadv-test-store.*");
	if (system(cmd) != 0)
		fprintf(stderr, "cannot clean up\n");
	return T_DONE();
}
