/* test_rebuild.c — the release manifest reader of `natadv rebuild` (lines,
 * times, URL normalisation, classes.tsv and SHA256SUMS beside it, the
 * errors with their line numbers), the store side of rebuild (class sets,
 * the manifest selection, recorded once) and audit's look-ups. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rebuild/rebuild.h"
#include "store/store.h"
#include "tests/t.h"

#define H1 "0662e69c48db37517eb5d82c5d2bbc9d"
#define H2 "27444223794395dfec6fc563f005b229"
#define LINE(path, label, wnid, hash, url, extra)                                                       \
	"{\"path\": \"" path "\", \"label\": " #label ", \"wnid\": \"" wnid "\", \"xxh128\": \"" hash        \
	"\", \"url\": \"" url "\", \"pred_wnid\": \"n01534433\", \"confidence\": 0.75, \"true_prob\": 0.125, " \
	"\"set\": \"mini\", \"version\": \"2.0\", \"released_at\": \"2026-01-02T03:04:05" extra "Z\"}\n"
#define GOOD1 LINE("mini/n01498041/" H1 ".jpg", 0, "n01498041", H1, "http://example.org/a.jpg", "")
#define GOOD2 LINE("mini/n01531178/" H2 ".jpg", 1, "n01531178", H2, "HTTPS://Example.org:443/b.jpg#x", "")

static char dir[256];

static void write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Reads text as DIR/manifest.jsonl; returns the code, err gets the message. */
static int read_manifest(const char *text, rebuild_manifest **m, char *err, size_t errlen)
{
	char path[512];
	write_file("manifest.jsonl", text);
	snprintf(path, sizeof path, "%s/manifest.jsonl", dir);
	return rebuild_manifest_read(path, m, err, errlen);
}

static void test_read(void)
{
	char err[1024] = "";
	rebuild_manifest *m = NULL;
	T_EQ_INT(read_manifest(GOOD1 "\n  \n" GOOD2, &m, err, sizeof err), 0);
	if (!m)
		return;
	T_EQ_INT(m->n, 2);
	T_EQ_STR(m->set, "mini");
	T_EQ_STR(m->version, "2.0");
	T_EQ_INT(m->released_unix, 1767323045);
	T_EQ_INT(m->items[1].src->line, 4); /* the blank lines count */
	T_EQ_STR(m->items[1].norm_url, "https://example.org/b.jpg");
	T_EQ_STR(m->items[1].host, "https://example.org");
	T_EQ_STR(m->items[1].src->url, "HTTPS://Example.org:443/b.jpg#x");
	T_CHECK(m->items[0].src->confidence == 0.75 && m->items[0].src->true_prob == 0.125);
	T_EQ_INT(m->members_exact, 0);
	T_EQ_INT(m->nmembers, 2);
	T_EQ_STR(m->members[1].wnid, "n01531178");
	T_EQ_STR(m->tar_sha256, "");
	T_EQ_INT(strlen(m->sha256), 64);
	rebuild_manifest_free(m);

	/* classes.tsv and SHA256SUMS beside it. */
	write_file("classes.tsv", "label\twnid\tindex_1k\tname\n0\tn01498041\t6\tstingray\n1\tn01531178\t11\tgoldfinch\n"
	                          "2\tn01534433\t13\tjunco\n");
	write_file("SHA256SUMS", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  mini/README.txt\n"
	                         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  mini.tar\n");
	m = NULL;
	T_EQ_INT(read_manifest(GOOD1 GOOD2, &m, err, sizeof err), 0);
	if (m) {
		T_EQ_INT(m->members_exact, 1);
		T_EQ_INT(m->nmembers, 3);
		T_EQ_INT(m->members[2].index, 2);
		T_EQ_STR(m->tar_sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	}
	rebuild_manifest_free(m);
	write_file("classes.tsv", "label\twnid\tindex_1k\tname\n0\tn01498041\t6\tstingray\n5\tn01531178\t11\tgoldfinch\n");
	m = NULL;
	T_EQ_INT(read_manifest(GOOD1 GOOD2, &m, err, sizeof err), NATADV_EFORMAT);
	T_CHECK(strstr(err, "line 2: class 'n01531178' has label 1") != NULL);
	T_CHECK(m == NULL);
	char path[512];
	snprintf(path, sizeof path, "%s/classes.tsv", dir);
	remove(path);
	snprintf(path, sizeof path, "%s/SHA256SUMS", dir);
	remove(path);

	/* A fraction of a second is fine, if all lines agree. */
	m = NULL;
	T_EQ_INT(read_manifest(LINE("mini/n01498041/" H1 ".jpg", 0, "n01498041", H1, "http://a.org/", ".250"), &m, err,
	                       sizeof err), 0);
	if (m)
		T_EQ_INT(m->released_unix, 1767323045);
	rebuild_manifest_free(m);
}

/* Each bad manifest fails with EFORMAT and a message containing want. */
static void expect_bad(const char *text, const char *want)
{
	char err[1024] = "";
	rebuild_manifest *m = NULL;
	T_EQ_INT(read_manifest(text, &m, err, sizeof err), NATADV_EFORMAT);
	if (!strstr(err, want)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", err, want);
		T_CHECK(0);
	}
	T_CHECK(m == NULL);
}

static void test_errors(void)
{
	expect_bad("", "no images in it");
	expect_bad("\n\n", "no images in it");
	expect_bad(GOOD1 "{\"path\": 1}\n", "line 2: 'path' is not a string");
	expect_bad(GOOD1 "{}\n", "line 2: 'path' is missing");
	expect_bad(GOOD1 GOOD1, "line 2: the same path as line 1");
	expect_bad(GOOD1 LINE("mini/n01531178/" H2 ".jpg", 1, "n01531178", H2, "HTTP://EXAMPLE.org/a.jpg", ""),
	           "line 2: the same url as line 1");
	expect_bad(GOOD1 LINE("mini/n01531178/" H2 ".jpg", 0, "n01531178", H2, "http://b.org/", ""),
	           "classes 'n01498041' and 'n01531178' both have label 0");
	expect_bad(LINE("mini/n01498041/" H2 ".jpg", 0, "n01498041", H1, "http://a.org/", ""),
	           "line 1: 'path' is 'mini/n01498041/" H2 ".jpg', expected 'mini/n01498041/" H1 ".jpg'");
	expect_bad(LINE("mini/n0149804/" H1 ".jpg", 0, "n0149804", H1, "http://a.org/", ""), "line 1: 'wnid' is not");
	expect_bad(LINE("mini/n01498041/" H1 ".jpg", 0, "n01498041", H1, "file:///etc/passwd", ""), "line 1: 'url': ");
	expect_bad(LINE("mini/n01498041/" H1 ".jpg", -1, "n01498041", H1, "http://a.org/", ""), "line 1: 'label'");
	expect_bad(LINE("mini/n01498041/" H1 ".jpg", 0, "n01498041", H1, "http://a.org/", "+01:00"),
	           "line 1: 'released_at' is not a UTC time");
	expect_bad(GOOD1 LINE("mini/n01531178/" H2 ".jpg", 1, "n01531178", H2, "http://b.org/", ".5"),
	           "line 2: 'released_at' is '2026-01-02T03:04:05.5Z', line 1 says '2026-01-02T03:04:05Z'");
	expect_bad("{\"path\": \"x\", \"path\": \"y\"}\n", "line 1: not JSON");
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int found;
static char found_hash[33];

static void on_found(void *ctx, const char *hash)
{
	(void)ctx;
	found++;
	snprintf(found_hash, sizeof found_hash, "%s", hash);
}

static int find(store *s, store_audit_by by, const char *key)
{
	found = 0;
	found_hash[0] = '\0';
	return store_audit_find(s, by, key, 10, on_found, NULL);
}

static void test_store_side(void)
{
	char ws[300], err[512], path[400];
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	if (!s)
		return;
	int64_t run = 0;
	T_EQ_INT(store_run_begin(s, "test", "test", &run), 0);
	sqlite3 *db = NULL;
	snprintf(path, sizeof path, "%s/natadv.db", ws);
	T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(db, "INSERT INTO images(hash, sha256, bytes, format, width, height, phash, first_seen) VALUES "
	                          "('" H1 "', 'aa', 1, 'jpeg', 64, 64, -1, 'now'), ('" H2 "', 'bb', 1, 'png', 64, 64, 1, 'now');"
	                          "INSERT INTO releases(id, set_name, version, content_sha256, released_at, released_unix, "
	                          "images, created_at) VALUES(1, 'imagenet-a', '1', 'x', 'now', 0, 1, 'now');"
	                          "INSERT INTO release_items(release_id, path, image_hash, wnid, sha256, bytes) VALUES"
	                          "(1, 'imagenet-a/n01498041/" H1 ".jpg', '" H1 "', 'n01498041', 'cc', 1)",
	                          NULL, NULL, NULL), SQLITE_OK);

	/* Class sets: created once, compared exactly or as a subset. */
	store_set_member mem[] = {{0, "n01498041"}, {1, "n01531178"}};
	int64_t size = 0;
	T_EQ_INT(store_set_compare(s, "mini", mem, 2, 1, &size), NATADV_ENOTFOUND);
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_set_create(s, run, "mini", mem, 2), 0);
	T_EQ_INT(store_set_create(s, run, "mini", mem, 2), NATADV_EEXIST);
	T_EQ_INT(store_commit(s), 0);
	T_EQ_INT(store_set_compare(s, "mini", mem, 2, 1, &size), 0);
	T_EQ_INT(size, 2);
	T_EQ_INT(store_set_compare(s, "mini", mem, 1, 1, NULL), NATADV_EEXIST);
	T_EQ_INT(store_set_compare(s, "mini", mem, 1, 0, NULL), 0);
	store_set_member moved[] = {{1, "n01498041"}};
	T_EQ_INT(store_set_compare(s, "mini", moved, 1, 0, NULL), NATADV_EEXIST);
	T_CHECK(strstr(store_errmsg(s), "'n01498041' at label 0, not 1") != NULL);
	T_EQ_INT(one_int(db, "SELECT based_on IS NULL FROM class_sets WHERE name = 'mini'"), 1);

	/* The manifest selection: recorded once for the same params. */
	store_manifest_item items[] = {{H1, "n01498041", "n01531178", 0.9, 0.1, "line 1", NULL},
	                               {H2, "n01531178", "n01498041", 0.8, 0.2, "line 2", NULL}};
	int64_t sel = 0;
	int created = -1;
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_selection_from_manifest(s, run, "mini", "{\"m\":1}", items, 2, "rebuild", &sel, &created), 0);
	T_EQ_INT(store_commit(s), 0);
	T_EQ_INT(created, 1);
	T_EQ_INT(store_selection_from_manifest(s, run, "mini", "{\"m\":1}", items, 2, "rebuild", &sel, &created), 0);
	T_EQ_INT(created, 0);
	T_EQ_INT(one_int(db, "SELECT count(*) FROM selections"), 1);
	T_EQ_INT(one_int(db, "SELECT count(*) FROM review_state WHERE decision = 'accept' AND mode = 'auto'"), 2);
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_selection_from_manifest(s, run, "mini", "{\"m\":2}", items, 1, "rebuild", &sel, &created), 0);
	T_EQ_INT(store_commit(s), 0);
	T_EQ_INT(created, 1);
	T_EQ_INT(one_int(db, "SELECT selection_id FROM current_selection WHERE set_name = 'mini'"), sel);

	/* Audit look-ups. */
	T_EQ_INT(find(s, STORE_AUDIT_HASH, "0662e69c"), 1);
	T_EQ_STR(found_hash, H1);
	T_EQ_INT(find(s, STORE_AUDIT_HASH, "0"), 1);
	T_EQ_INT(find(s, STORE_AUDIT_HASH, "0662E69C"), -NATADV_EINVAL);
	T_EQ_INT(find(s, STORE_AUDIT_HASH, "0662e69c*"), -NATADV_EINVAL);
	T_EQ_INT(find(s, STORE_AUDIT_SHA256, "cc"), 1);
	T_EQ_INT(find(s, STORE_AUDIT_SHA256, "bb"), 1);
	T_EQ_STR(found_hash, H2);
	T_EQ_INT(find(s, STORE_AUDIT_RELEASE_PATH, "imagenet-a/n01498041/" H1 ".jpg"), 1);
	T_EQ_INT(find(s, STORE_AUDIT_RELEASE_PATH, "/x/imagenet-a/n01498041/" H1 ".jpg"), 1);
	T_EQ_INT(find(s, STORE_AUDIT_RELEASE_PATH, H1 ".jpg"), 1);
	T_EQ_INT(find(s, STORE_AUDIT_RELEASE_PATH, "xyz" H1 ".jpg"), 0);   /* not at a '/' */
	T_EQ_INT(find(s, STORE_AUDIT_RELEASE_PATH, "/ximagenet-a/n01498041/" H1 ".jpg"), 0);
	T_EQ_INT(find(s, STORE_AUDIT_URL, "http://nowhere/"), 0);

	json_t *doc = NULL;
	T_EQ_INT(store_audit_image(s, H1, &doc), 0);
	T_EQ_STR(json_string_value(json_object_get(json_object_get(doc, "image"), "dhash")), "ffffffffffffffff");
	T_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(doc, "releases"), 0), "path")),
	         "imagenet-a/n01498041/" H1 ".jpg");
	json_decref(doc);
	T_EQ_INT(store_audit_image(s, "ffffffffffffffffffffffffffffffff", &doc), NATADV_ENOTFOUND);
	sqlite3_close(db);
	store_close(s);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/natadv-test-rebuild.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	T_RUN(test_read);
	T_RUN(test_errors);
	T_RUN(test_store_side);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return T_DONE();
}
