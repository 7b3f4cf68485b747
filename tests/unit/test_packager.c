/* test_packager.c — the release's files: README.txt, manifest lines,
 * SHA256SUMS, the content identity, the byte-reproducible tar (read back
 * header by header), verify on a small release, and the JPEG encoder the
 * packager converts PNG with (deterministic, close to the pixels). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/sha256.h"
#include "image/image.h"
#include "packager/packager.h"
#include "tests/t.h"

#include <openssl/crypto.h>
#include <sqlite3.h>

/* OpenSSL's allocations, which a test can make fail: once crypto_budget
 * (-1: no limit) more have been made, every one fails. */
static long crypto_budget = -1, crypto_allocs;

/* Counts one allocation; 0 when the budget says it fails. */
static int crypto_take(void)
{
	crypto_allocs++;
	if (crypto_budget == 0)
		return 0;
	if (crypto_budget > 0)
		crypto_budget--;
	return 1;
}

static void *t_crypto_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return crypto_take() ? malloc(n) : NULL;
}

static void *t_crypto_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return crypto_take() ? realloc(p, n) : NULL;
}

static void t_crypto_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void put(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "wb");
	T_CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void mkdir_in(const char *dir, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	T_CHECK(mkdir(path, 0755) == 0);
}

static void make_tmp(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/natadv-test-pkg.XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
}

static void rm_tmp(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	T_CHECK(system(cmd) == 0);
}

static void test_first_name(void)
{
	char n[16];
	pkg_first_name("robin, American robin, Turdus migratorius", n, sizeof n);
	T_EQ_STR(n, "robin");
	pkg_first_name("stingray", n, sizeof n);
	T_EQ_STR(n, "stingray");
	pkg_first_name("a very long name indeed, b", n, sizeof n);
	T_EQ_STR(n, "a very long nam");
	pkg_first_name(NULL, n, sizeof n);
	T_EQ_STR(n, "");
	T_EQ_STR(pkg_folder_name("imagenet-a"), "imagenet-a");
	T_EQ_STR(pkg_folder_name("birds-v2"), "birds-v2");
}

static void test_readme_imagenet_a(void)
{
	pkg_readme_class cls[] = {{"n01498041", "stingray", 1000}, {"n01531178", "goldfinch", 234}};
	pkg_readme r = {"imagenet-a", NULL, 1234, 0, cls, 2, 0};
	buf b;
	buf_init(&b, 1 << 20);
	T_EQ_INT(pkg_readme_write(&b, &r), 0);
	const char *want =
		"The ImageNet-A dataset contains 1,234 natural adversarial examples.\n"
		"\n"
		"If you find this dataset useful, please cite the paper that introduced it:\n"
		"\n"
		"@inproceedings{hendrycks2021nae,\n"
		"  title={Natural Adversarial Examples},\n"
		"  author={Dan Hendrycks and Kevin Zhao and Steven Basart and Jacob Steinhardt and Dawn Song},\n"
		"  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},\n"
		"  pages={15262--15271},\n"
		"  year={2021}\n"
		"}\n"
		"\n"
		"There are 2 classes we consider. The WordNet ID and a description of each class is as follows.\n"
		"\n"
		"n01498041 stingray\n"
		"n01531178 goldfinch\n";
	T_EQ_STR(buf_cstr(&b), want);
	buf_release(&b);
}

static void test_readme_partial_set(void)
{
	pkg_readme_class cls[] = {{"n01498041", "stingray", 3}, {"n01531178", "goldfinch", 0}, {"n02", "x", 1}};
	pkg_readme r = {"birds", "imagenet-a", 4, 1, cls, 3, 0};
	buf b;
	buf_init(&b, 1 << 20);
	T_EQ_INT(pkg_readme_write(&b, &r), 0);
	const char *s = buf_cstr(&b);
	T_CHECK(strncmp(s, "The birds dataset contains 4 natural adversarial examples.\n", 59) == 0);
	T_CHECK(strstr(s, "WARNING: THIS RELEASE IS PARTIAL. 1 of its 3 classes have no images.\n") != NULL);
	T_CHECK(strstr(s, "The empty classes:\n  n01531178 goldfinch\n") != NULL);
	T_CHECK(strstr(s, "  n01498041 stingray\n") == NULL);
	T_CHECK(strstr(s, "for the class set 'birds', which is based on the class set 'imagenet-a'.\n") != NULL);
	T_CHECK(strstr(s, "title={Natural Adversarial Examples}") != NULL);
	size_t len = strlen(s);
	const char *tail = "There are 3 classes we consider. The WordNet ID and a description of each class is as follows.\n\n"
	                   "n01498041 stingray\nn01531178 goldfinch\nn02 x\n";
	T_CHECK(len > strlen(tail) && strcmp(s + len - strlen(tail), tail) == 0);
	buf_release(&b);
}

static void test_manifest_line(void)
{
	pkg_manifest_entry e = {
		.path = "imagenet-a/n01498041/0123456789abcdef0123456789abcdef.jpg", .label = 0, .wnid = "n01498041",
		.class_name = "stingray", .xxh128 = "0123456789abcdef0123456789abcdef", .sha256 = "ab", .bytes = 10,
		.width = 640, .height = 480, .converted = "png->jpeg q=95", .source_sha256 = "cd", .source_bytes = 20,
		.source = "seeds", .url = "http://x/a.png", .author = "A \"B\" \\ C\n\x01 \xc3\xa9",
		.attribution = "(c) \"Zo\xc3\xab\" O'Brien, some rights reserved (CC BY)", .title = "bad \xff",
		.http_status = 0, .confidence = 0.5, .true_prob = -1, .selection_id = 7, .review = "accept",
		.set = "imagenet-a", .version = "1.0", .released_at = "2026-01-02T03:04:05Z",
	};
	buf b;
	buf_init(&b, 1 << 16);
	T_EQ_INT(pkg_manifest_line(&b, &e), 0);
	const char *want =
		"{\"path\":\"imagenet-a/n01498041/0123456789abcdef0123456789abcdef.jpg\",\"label\":0,\"wnid\":\"n01498041\","
		"\"class_name\":\"stingray\",\"xxh128\":\"0123456789abcdef0123456789abcdef\",\"sha256\":\"ab\",\"bytes\":10,"
		"\"width\":640,\"height\":480,\"converted\":\"png->jpeg q=95\",\"source_sha256\":\"cd\",\"source_bytes\":20,"
		"\"source\":\"seeds\",\"query\":null,\"url\":\"http://x/a.png\",\"final_url\":null,\"page_url\":null,"
		"\"license\":null,\"license_raw\":null,\"author\":\"A \\\"B\\\" \\\\ C\\n\\u0001 \xc3\xa9\","
		"\"attribution\":\"(c) \\\"Zo\xc3\xab\\\" O'Brien, some rights reserved (CC BY)\","
		"\"title\":\"bad \xef\xbf\xbd\",\"fetched_at\":null,\"http_status\":null,\"etag\":null,\"model\":null,"
		"\"model_id\":null,\"pred_wnid\":null,\"pred_name\":null,\"confidence\":0.5,\"true_prob\":null,"
		"\"selection_id\":7,\"selection_rule\":null,\"review\":\"accept\",\"reviewer\":null,\"reviewed_at\":null,"
		"\"set\":\"imagenet-a\",\"version\":\"1.0\",\"released_at\":\"2026-01-02T03:04:05Z\"}\n";
	T_EQ_STR(buf_cstr(&b), want);
	buf_release(&b);
}

static void test_readme_ood(void)
{
	pkg_readme_class cls[] = {{"n01443537", "goldfish", 2}, {"n01704323", "triceratops", 1}};
	pkg_readme r = {"imagenet-o", NULL, 3, 0, cls, 2, 1};
	buf b;
	buf_init(&b, 1 << 20);
	T_EQ_INT(pkg_readme_write(&b, &r), 0);
	const char *s = buf_cstr(&b);
	T_CHECK(strncmp(s, "The ImageNet-O dataset contains 3 out-of-distribution examples.\n", 64) == 0);
	T_CHECK(strstr(s, "its folder is\nthat predicted class") != NULL);
	T_CHECK(strstr(s, "method of ImageNet-A") == NULL);
	size_t len = strlen(s);
	const char *tail = "\n\nn01443537 goldfish\nn01704323 triceratops\n";
	T_CHECK(len > strlen(tail) && strcmp(s + len - strlen(tail), tail) == 0);
	buf_release(&b);
}

/* An ImageNet-O line: written with source_wnid, source_name and msp last,
 * read back by the one manifest reader, checked as a whole manifest. */
static void test_manifest_ood(void)
{
	pkg_manifest_entry e = {
		.path = "imagenet-o/n01443537/0123456789abcdef0123456789abcdef.jpg", .label = 0, .wnid = "n01443537",
		.class_name = "goldfish", .xxh128 = "0123456789abcdef0123456789abcdef", .bytes = 10, .source_bytes = 10,
		.url = "http://x/a.jpg", .pred_wnid = "n01443537", .pred_name = "goldfish", .confidence = 0.75,
		.true_prob = 0, .set = "imagenet-o", .version = "1.0", .released_at = "2026-01-02T03:04:05Z",
		.source_wnid = "n09391386", .source_name = "photosphere", .msp = 0.75,
	};
	buf b;
	buf_init(&b, 1 << 16);
	T_EQ_INT(pkg_manifest_line(&b, &e), 0);
	const char *s = buf_cstr(&b);
	T_CHECK(strstr(s, ",\"released_at\":\"2026-01-02T03:04:05Z\",\"source_wnid\":\"n09391386\","
	                  "\"source_name\":\"photosphere\",\"msp\":0.75}\n") != NULL);
	char dir[64], path[128], err[512];
	make_tmp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/m.jsonl", dir);
	/* line 1 as written; line 2 without msp; line 3 filed under another class than the predicted one */
	char *two = strdup(s), *three = strdup(s);
	*strstr(two, ",\"msp\"") = '\0';
	memcpy(strstr(three, "\"pred_wnid\":\"n01443537\"") + 13, "n01704323", 9);
	char body[8192];
	snprintf(body, sizeof body, "%s%s}\n%s", s, two, three);
	put(dir, "m.jsonl", body);
	pkg_manifest *m = NULL;
	T_EQ_INT(pkg_manifest_read(path, &m, err, sizeof err), 0);
	if (m) {
		T_EQ_INT(m->n, 3);
		T_EQ_INT(m->malformed, 0);
		T_EQ_STR(m->items[0].source_wnid, "n09391386");
		T_EQ_STR(m->items[0].source_name, "photosphere");
		T_CHECK(m->items[0].msp == 0.75);
		T_CHECK(m->items[1].msp == -1);
		pkg_manifest_release rel;
		T_EQ_INT(pkg_manifest_check(m, "m.jsonl", &rel, err, sizeof err), NATADV_EFORMAT);
		T_CHECK(strstr(err, "line 2: 'msp' is missing") != NULL);
		m->n = 1;
		T_EQ_INT(pkg_manifest_check(m, "m.jsonl", &rel, err, sizeof err), 0);
		m->items[0] = m->items[2];
		T_EQ_INT(pkg_manifest_check(m, "m.jsonl", &rel, err, sizeof err), NATADV_EFORMAT);
		T_CHECK(strstr(err, "filed under its predicted class") != NULL);
		m->n = 3;
	}
	pkg_manifest_free(m);
	/* a malformed source_wnid and msp are the reader's to refuse */
	snprintf(body, sizeof body, "{\"source_wnid\":\"x1\"}\n{\"msp\":1.5}\n{\"msp\":\"high\"}\n");
	put(dir, "m.jsonl", body);
	T_EQ_INT(pkg_manifest_read(path, &m, err, sizeof err), 0);
	if (m) {
		T_EQ_INT(m->malformed, 3);
		T_CHECK(m->items[0].error && strstr(m->items[0].error, "'source_wnid' is not a WordNet id") != NULL);
		T_CHECK(m->items[1].error && strstr(m->items[1].error, "'msp' is 1.5") != NULL);
		T_CHECK(m->items[2].error && strstr(m->items[2].error, "'msp' is not a number") != NULL);
	}
	pkg_manifest_free(m);
	free(two);
	free(three);
	buf_release(&b);
	rm_tmp(dir);
}

static void test_content_sha(void)
{
	const char *paths[] = {"a/README.txt", "a/n1/x.jpg"}, *shas[] = {"11", "22"};
	char got[65], want[65];
	T_EQ_INT(pkg_content_sha256(paths, shas, 2, got), 0);
	const char *text = "a/README.txt 11\na/n1/x.jpg 22\n";
	sha256_hex(text, strlen(text), want);
	T_EQ_STR(got, want);
}

static void test_sha256sums(void)
{
	char dir[64];
	make_tmp(dir, sizeof dir);
	mkdir_in(dir, "f");
	mkdir_in(dir, "f/n2");
	mkdir_in(dir, "f/empty");
	put(dir, "f/n2/b.jpg", "bbb");
	put(dir, "f/README.txt", "readme");
	put(dir, "manifest.jsonl", "{}\n");
	put(dir, "SHA256SUMS", "old");
	buf b;
	buf_init(&b, 1 << 16);
	char err[256];
	T_EQ_INT(pkg_sha256sums(dir, &b, err, sizeof err), 0);
	char h1[65], h2[65], h3[65], want[512];
	sha256_hex("readme", 6, h1);
	sha256_hex("bbb", 3, h2);
	sha256_hex("{}\n", 3, h3);
	snprintf(want, sizeof want, "%s  f/README.txt\n%s  f/n2/b.jpg\n%s  manifest.jsonl\n", h1, h2, h3);
	T_EQ_STR(buf_cstr(&b), want);
	buf_release(&b);
	rm_tmp(dir);
}

/* Reads an octal header field. */
static long long octal(const unsigned char *p, size_t n)
{
	long long v = 0;
	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static void make_tree(const char *dir)
{
	mkdir_in(dir, "rel");
	mkdir_in(dir, "rel/imagenet-a");
	mkdir_in(dir, "rel/imagenet-a/n01498041");
	mkdir_in(dir, "rel/imagenet-a/n01531178");
	put(dir, "rel/imagenet-a/README.txt", "The ImageNet-A dataset contains 2 natural adversarial examples.\n");
	put(dir, "rel/imagenet-a/n01498041/aa.jpg", "first image bytes");
	put(dir, "rel/imagenet-a/n01531178/bb.jpg", "second");
	put(dir, "rel/outside.txt", "not in the tar");
}

static void test_tar_reproducible(void)
{
	char dir[64], rel[128], t1[128], t2[128], t3[128], err[256];
	char h1[65], h2[65], h3[65];
	make_tmp(dir, sizeof dir);
	make_tree(dir);
	snprintf(rel, sizeof rel, "%s/rel", dir);
	snprintf(t1, sizeof t1, "%s/one.tar", dir);
	snprintf(t2, sizeof t2, "%s/two.tar", dir);
	snprintf(t3, sizeof t3, "%s/three.tar", dir);
	T_EQ_INT(pkg_tar_write(rel, "imagenet-a", t1, 1700000000, h1, err, sizeof err), 0);
	/* Other file times and modes on disk change nothing. */
	char p[256];
	snprintf(p, sizeof p, "%s/imagenet-a/n01498041/aa.jpg", rel);
	struct utimbuf ut = {12345, 67890};
	T_CHECK(utime(p, &ut) == 0);
	T_CHECK(chmod(p, 0600) == 0);
	snprintf(p, sizeof p, "%s/imagenet-a/n01531178", rel);
	T_CHECK(chmod(p, 0700) == 0);
	T_EQ_INT(pkg_tar_write(rel, "imagenet-a", t2, 1700000000, h2, err, sizeof err), 0);
	T_EQ_STR(h2, h1);
	T_EQ_INT(pkg_tar_write(rel, "imagenet-a", t3, 1700000001, h3, err, sizeof err), 0);
	T_CHECK(strcmp(h3, h1) != 0);

	buf b;
	buf_init(&b, 1 << 24);
	T_EQ_INT(buf_read_file(&b, t1, err, sizeof err), 0);
	T_EQ_INT(b.len % 10240, 0);
	const char *want[] = {"imagenet-a/", "imagenet-a/README.txt", "imagenet-a/n01498041/",
	                      "imagenet-a/n01498041/aa.jpg", "imagenet-a/n01531178/", "imagenet-a/n01531178/bb.jpg"};
	size_t off = 0, k = 0;
	while (off + 512 <= b.len) {
		const unsigned char *h = (const unsigned char *)b.data + off;
		if (h[0] == 0)
			break;
		char name[256];
		snprintf(name, sizeof name, "%.155s%s%.100s", (const char *)h + 345, h[345] ? "/" : "", (const char *)h);
		T_CHECK(k < 6);
		if (k < 6)
			T_EQ_STR(name, want[k]);
		T_CHECK(h[156] == '0' || h[156] == '5');        /* no pax 'x'/'g' headers */
		T_CHECK(memcmp(h + 257, "ustar\0" "00", 8) == 0);
		T_EQ_INT(octal(h + 100, 8), h[156] == '5' ? 0755 : 0644);
		T_EQ_INT(octal(h + 108, 8), 0);                 /* uid */
		T_EQ_INT(octal(h + 116, 8), 0);                 /* gid */
		T_EQ_INT(octal(h + 136, 12), 1700000000);       /* mtime */
		T_EQ_STR((const char *)h + 265, "root");
		T_EQ_STR((const char *)h + 297, "root");
		long long size = octal(h + 124, 12);
		off += 512 + (size_t)((size + 511) / 512 * 512);
		k++;
	}
	T_EQ_INT(k, 6);
	T_CHECK(memmem(b.data, b.len, "atime", 5) == NULL && memmem(b.data, b.len, "ctime", 5) == NULL);
	T_CHECK(memmem(b.data, b.len, "outside", 7) == NULL);
	buf_release(&b);
	rm_tmp(dir);
}

struct seen {
	char lines[16][256];
	int n;
};

static void on_problem(void *ctx, const char *kind, const char *path)
{
	struct seen *s = ctx;
	if (s->n < 16)
		snprintf(s->lines[s->n++], sizeof s->lines[0], "%s: %s", kind, path);
}

/* A small release made from the building blocks, then damaged. */
/* A small release made from the building blocks in dir/rel (path in rel):
 * README.txt, two images, manifest.jsonl, imagenet-a.tar (path in tar) and
 * SHA256SUMS of them all. */
static void make_release(const char *dir, char rel[128], char tar[160])
{
	char err[256], path[256];
	make_tree(dir);
	snprintf(rel, 128, "%s/rel", dir);
	snprintf(path, sizeof path, "%s/outside.txt", rel);
	T_CHECK(unlink(path) == 0);
	buf m, sums;
	buf_init(&m, 1 << 16);
	buf_init(&sums, 1 << 16);
	const char *files[][2] = {{"imagenet-a/n01498041/aa.jpg", "first image bytes"},
	                          {"imagenet-a/n01531178/bb.jpg", "second"}};
	for (int i = 0; i < 2; i++) {
		char sha[65];
		T_EQ_INT(sha256_hex(files[i][1], strlen(files[i][1]), sha), 0);
		pkg_manifest_entry e = {.path = files[i][0], .sha256 = sha, .bytes = (int64_t)strlen(files[i][1]),
		                        .confidence = -1, .true_prob = -1};
		T_EQ_INT(pkg_manifest_line(&m, &e), 0);
	}
	put(rel, "manifest.jsonl", buf_cstr(&m));
	snprintf(tar, 160, "%s/imagenet-a.tar", rel);
	T_EQ_INT(pkg_tar_write(rel, "imagenet-a", tar, 1, NULL, err, sizeof err), 0);
	T_EQ_INT(pkg_sha256sums(rel, &sums, err, sizeof err), 0);
	put(rel, "SHA256SUMS", buf_cstr(&sums));
	buf_release(&m);
	buf_release(&sums);
}

static void test_verify(void)
{
	char dir[64], rel[128], err[256], path[256], tar[160];
	make_tmp(dir, sizeof dir);
	make_release(dir, rel, tar);

	struct seen s = {0};
	pkg_verify_result r;
	T_EQ_INT(pkg_verify(rel, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 0);
	T_EQ_INT(r.files, 5);
	T_EQ_INT(pkg_verify(tar, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 0);
	T_EQ_INT(r.files, 4);  /* the tar itself, README.txt, two images */

	put(rel, "imagenet-a/n01531178/bb.jpg", "SECOND");
	put(rel, "imagenet-a/n01531178/cc.jpg", "stray");
	snprintf(path, sizeof path, "%s/imagenet-a/README.txt", rel);
	T_CHECK(unlink(path) == 0);
	mkdir_in(rel, "imagenet-a/junk");
	T_EQ_INT(pkg_verify(rel, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 4);
	T_EQ_STR(s.lines[0], "missing: imagenet-a/README.txt");
	T_EQ_STR(s.lines[1], "extra: imagenet-a/junk/");
	T_EQ_STR(s.lines[2], "modified: imagenet-a/n01531178/bb.jpg");
	T_EQ_STR(s.lines[3], "extra: imagenet-a/n01531178/cc.jpg");
	T_EQ_INT(r.modified, 1);
	T_EQ_INT(r.missing, 1);
	T_EQ_INT(r.extra, 2);

	/* classes.tsv goes through the one reader: its wnids may be empty class
	 * folders, and a malformed one is a problem named with its line. */
	put(rel, "classes.tsv", "label\twnid\tindex_1k\n0\tn01498041\t6\n1\tn01531178\t11\n2\tn01534433\t13\n");
	mkdir_in(rel, "imagenet-a/n01534433");
	s.n = 0;
	T_EQ_INT(pkg_verify(rel, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 5);
	T_EQ_STR(s.lines[0], "extra: classes.tsv");
	T_EQ_INT(r.malformed, 0);
	put(rel, "classes.tsv", "label\twnid\tindex_1k\n0\tn01498041\t6\n1\tgoldfinch\t11\n");
	s.n = 0;
	T_EQ_INT(pkg_verify(rel, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 7);
	T_EQ_STR(s.lines[1], "malformed: classes.tsv:3");
	T_EQ_INT(r.malformed, 1);
	T_EQ_STR(s.lines[6], "extra: imagenet-a/n01534433/");

	/* A tar without SHA256SUMS beside it cannot be verified at all. */
	snprintf(path, sizeof path, "%s/SHA256SUMS", rel);
	T_CHECK(unlink(path) == 0);
	T_EQ_INT(pkg_verify(tar, on_problem, &s, &r, err, sizeof err), NATADV_ENOTFOUND);
	T_CHECK(strstr(err, "no SHA256SUMS") != NULL);
	rm_tmp(dir);
}

/* A SHA-256 that cannot be computed is an error, never an unset digest
 * compared or written: verify of a tar whose members cannot be hashed
 * (OpenSSL's allocations failing once the manifest has been read). */
static void test_hash_failure(void)
{
	char dir[64], rel[128], path[256], tar[160], err[256];
	make_tmp(dir, sizeof dir);
	make_release(dir, rel, tar);
	/* SHA256SUMS without the tar's line: only its members are hashed. */
	buf sums, listed;
	buf_init(&sums, 1 << 16);
	buf_init(&listed, 1 << 16);
	snprintf(path, sizeof path, "%s/SHA256SUMS", rel);
	T_EQ_INT(buf_read_file(&sums, path, err, sizeof err), 0);
	for (const char *p = buf_cstr(&sums); *p;) {
		size_t n = strcspn(p, "\n") + 1;
		if (!strstr(p, "  imagenet-a.tar\n") || strstr(p, "  imagenet-a.tar\n") > p + n)
			buf_append(&listed, p, n);
		p += n;
	}
	put(rel, "SHA256SUMS", buf_cstr(&listed));

	struct seen s = {0};
	pkg_verify_result r;
	T_EQ_INT(pkg_verify(tar, on_problem, &s, &r, err, sizeof err), 0);
	T_EQ_INT(s.n, 0);
	T_EQ_INT(r.files, 3);
	/* What one reading of the manifest takes of OpenSSL (its hash). */
	pkg_manifest *pm = NULL;
	snprintf(path, sizeof path, "%s/manifest.jsonl", rel);
	crypto_allocs = 0;
	T_EQ_INT(pkg_manifest_read(path, &pm, err, sizeof err), 0);
	long per_hash = crypto_allocs;
	pkg_manifest_free(pm);
	T_CHECK(per_hash > 0);
	crypto_budget = per_hash;
	int rc = pkg_verify(tar, on_problem, &s, &r, err, sizeof err);
	crypto_budget = -1;
	T_EQ_INT(rc, NATADV_ENOMEM);
	T_CHECK(strstr(err, "cannot hash 'imagenet-a/") != NULL);
	T_EQ_INT(s.n, 0);  /* no 'modified' from a digest never computed */
	buf_release(&sums);
	buf_release(&listed);
	rm_tmp(dir);
}

/* The same for export: a stored image whose SHA-256 cannot be computed
 * stops the export with that reason (it was taken for damaged bytes, an
 * unset digest compared with the recorded one). A workspace with one
 * selection made the way rebuild makes it. */
static void test_export_hash_failure(void)
{
	char dir[64], ws[128], out[160], err[1024], path[256];
	make_tmp(dir, sizeof dir);
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	if (!s)
		return;
	int64_t run = 0;
	T_EQ_INT(store_run_begin(s, "test", "test", &run), 0);
	const char *hash[2] = {"0662e69c48db37517eb5d82c5d2bbc9d", "27444223794395dfec6fc563f005b229"};
	const char *bytes[2] = {"first image bytes", "second"};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof path, "%s/natadv.db", ws);
	T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	T_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO images(hash, sha256, bytes, format, width, height, phash, "
	                                "first_seen) VALUES(?, ?, ?, 'jpeg', 64, 64, 1, 'now')", -1, &st, NULL),
	         SQLITE_OK);
	for (int i = 0; st && i < 2; i++) {
		char sha[65];
		T_EQ_INT(sha256_hex(bytes[i], strlen(bytes[i]), sha), 0);
		T_EQ_INT(blob_put(store_objects_dir(s), hash[i], bytes[i], strlen(bytes[i]), err, sizeof err), 0);
		sqlite3_bind_text(st, 1, hash[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, sha, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)strlen(bytes[i]));
		T_EQ_INT(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	store_set_member mem[] = {{0, "n01498041"}, {1, "n01531178"}};
	store_manifest_item items[] = {{hash[0], "n01498041", "n01531178", 0.9, 0.1, "line 1", NULL},
	                               {hash[1], "n01531178", "n01498041", 0.8, 0.2, "line 2", NULL}};
	int64_t sel = 0;
	int created = 0;
	T_EQ_INT(store_begin(s), 0);
	T_EQ_INT(store_set_create(s, run, "mini", mem, 2), 0);
	T_EQ_INT(store_selection_from_manifest(s, run, "mini", "{}", items, 2, "rebuild", &sel, &created), 0);
	T_EQ_INT(store_commit(s), 0);

	snprintf(out, sizeof out, "%s/rel", dir);
	pkg_export_opts o = {.set = "mini", .out = out, .run_id = run};
	pkg_export_result r;
	T_EQ_INT(pkg_export(s, &o, &r, err, sizeof err), 0);
	T_EQ_INT(r.images, 2);
	o.force = 1;
	crypto_budget = 0;
	int rc = pkg_export(s, &o, &r, err, sizeof err);
	crypto_budget = -1;
	T_EQ_INT(rc, NATADV_ENOMEM);
	if (!strstr(err, "cannot hash '0662e69c48db37517eb5d82c5d2bbc9d'")) {
		fprintf(stderr, "message: %s\n", err);
		T_CHECK(0);
	}
	store_close(s);
	rm_tmp(dir);
}

/* The encoder the packager converts PNG with: the same pixels always give
 * the same bytes, and decoding them gives the pixels back closely. */
static void test_jpeg_encode(void)
{
	buf png, j1, j2;
	buf_init(&png, 1 << 24);
	buf_init(&j1, 1 << 24);
	buf_init(&j2, 1 << 24);
	char err[256];
	T_EQ_INT(buf_read_file(&png, "tests/fixtures/chelsea.png", err, sizeof err), 0);
	img_ctx *a = img_ctx_new(), *b = img_ctx_new();
	img_rgb src, back;
	T_EQ_INT(img_decode_rgb(a, png.data, png.len, NULL, &src, err, sizeof err), 0);
	T_EQ_INT(img_encode_jpeg(&src, 95, &j1, err, sizeof err), 0);
	T_EQ_INT(img_encode_jpeg(&src, 95, &j2, err, sizeof err), 0);
	T_CHECK(j1.len > 1000 && j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);
	img_info info;
	T_EQ_INT(img_probe(j1.data, j1.len, &info, err, sizeof err), 0);
	T_EQ_INT(info.format, IMG_FORMAT_JPEG);
	T_EQ_INT(info.progressive, 0);
	T_EQ_INT(img_decode_rgb(b, j1.data, j1.len, NULL, &back, err, sizeof err), 0);
	T_EQ_INT(back.width, src.width);
	T_EQ_INT(back.height, src.height);
	size_t n = (size_t)src.width * src.height * 3;
	double sum = 0, sq = 0;
	for (size_t i = 0; i < n; i++) {
		int d = (int)src.px[i] - (int)back.px[i];
		sum += d < 0 ? -d : d;
		sq += (double)d * d;
	}
	double mae = sum / (double)n, rmse = sqrt(sq / (double)n);
	T_CHECK(mae < 2.5);
	T_CHECK(rmse < 4.0);
	/* A lower quality is smaller: the quality really is applied. */
	T_EQ_INT(img_encode_jpeg(&src, 50, &j2, err, sizeof err), 0);
	T_CHECK(j2.len < j1.len);
	img_ctx_free(a);
	img_ctx_free(b);
	buf_release(&png);
	buf_release(&j1);
	buf_release(&j2);
}

/* classes.tsv: the export's own layout, columns in another order, and each
 * kind of bad file named with its line. */
static void test_classes_tsv(void)
{
	char dir[64], path[128], err[512];
	make_tmp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/classes.tsv", dir);
	pkg_class_row *rows;
	int n;
	put(dir, "classes.tsv",
	         "label\twnid\tindex_1k\tname\timages\n0\tn01498041\t6\tstingray\t3\n1\tn01531178\t11\tgoldfinch\t0\n");
	T_EQ_INT(pkg_classes_read(path, &rows, &n, NULL, err, sizeof err), 0);
	T_EQ_INT(n, 2);
	if (n == 2) {
		T_EQ_INT((int)rows[1].label, 1);
		T_EQ_STR(rows[1].wnid, "n01531178");
		T_EQ_INT((int)rows[1].index_1k, 11);
		T_EQ_STR(rows[1].name, "goldfinch");
		T_EQ_INT((int)rows[1].line, 3);
	}
	free(rows);
	put(dir, "classes.tsv", "wnid\tindex_1k\tlabel\r\nn01498041\t\t4\r\n\n");
	T_EQ_INT(pkg_classes_read(path, &rows, &n, NULL, err, sizeof err), 0);
	T_EQ_INT(n, 1);
	if (n == 1) {
		T_EQ_INT((int)rows[0].label, 4);
		T_EQ_INT((int)rows[0].index_1k, -1);
		T_EQ_STR(rows[0].name, "");
	}
	free(rows);
	static const struct {
		const char *text, *why;
		long line;  /* the faulty line, 0 for none */
	} bad[] = {
		{"label\twnid\tname\n", "line 1: the header must name label, wnid and index_1k", 1},
		{"label\twnid\tindex_1k\n", "no classes", 0},
		{"", "it is empty", 0},
		{"label\twnid\tindex_1k\n0\tn01498041\n", "line 2: too few columns", 2},
		{"label\twnid\tindex_1k\n0\tn01498041\t6\n-1\tn01531178\t11\n", "line 3: label '-1' is not a whole number", 3},
		{"label\twnid\tindex_1k\nx\tn01498041\t6\n", "line 2: label 'x' is not a whole number", 2},
		{"label\twnid\tindex_1k\n0\tgoldfish\t6\n", "line 2: 'goldfish' is not a wnid", 2},
		{"label\twnid\tindex_1k\n0\tn01498041\t6x\n", "line 2: index_1k '6x' is not a whole number", 2},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put(dir, "classes.tsv", bad[i].text);
		static pkg_class_row stale;
		rows = &stale;  /* must come back NULL */
		long line = -1;
		T_EQ_INT(pkg_classes_read(path, &rows, &n, &line, err, sizeof err), NATADV_EFORMAT);
		T_CHECK(rows == NULL && n == 0);
		T_CHECK(strstr(err, bad[i].why) != NULL);
		T_CHECK(strstr(err, "classes.tsv") != NULL);
		T_EQ_INT((int)line, (int)bad[i].line);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "case %zu: %s\n", i, err);
	}
	snprintf(path, sizeof path, "%s/missing.tsv", dir);
	T_CHECK(pkg_classes_read(path, &rows, &n, NULL, err, sizeof err) != 0);
	rm_tmp(dir);
}

int main(void)
{
	/* Before OpenSSL allocates anything: test_hash_failure makes it fail. */
	if (!CRYPTO_set_mem_functions(t_crypto_malloc, t_crypto_realloc, t_crypto_free))
		return 1;
	T_RUN(test_first_name);
	T_RUN(test_readme_imagenet_a);
	T_RUN(test_readme_partial_set);
	T_RUN(test_manifest_line);
	T_RUN(test_readme_ood);
	T_RUN(test_manifest_ood);
	T_RUN(test_content_sha);
	T_RUN(test_sha256sums);
	T_RUN(test_tar_reproducible);
	T_RUN(test_verify);
	T_RUN(test_hash_failure);
	T_RUN(test_export_hash_failure);
	T_RUN(test_jpeg_encode);
	T_RUN(test_classes_tsv);
	return T_DONE();
}
