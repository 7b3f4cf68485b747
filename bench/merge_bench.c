/* merge_bench.c — natadv merge's speed: a workspace of N queued urls is
 * split into P crawl parts (natadv split), each part "crawled" by recording
 * one fetch and one new image (with its blob) per url through the store's
 * own calls, then every part is merged back (natadv merge) and timed.
 * Prints split and merge throughput; the target is >= 50,000 images/s
 * merged with blobs hard-linked, not copied.
 *   build/rel/merge_bench [-n IMAGES] [-p PARTS] [-d DIR] [-s]   (200000, 64)
 * -s stops before the merge (to time or profile `natadv -w DIR/ws merge
 * DIR/parts` on a copy of DIR/ws). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "scaleout/scaleout.h"
#include "store/store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process has used. */
static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int die(const char *what, const char *why)
{
	fprintf(stderr, "merge_bench: %s: %s\n", what, why);
	return 1;
}

/* Queues n urls over 1,000 hosts in one transaction. */
static int queue(store *s, int64_t run, long n)
{
	if (store_begin(s))
		return -1;
	for (long i = 0; i < n; i++) {
		char url[96], host[64];
		snprintf(host, sizeof host, "http://h%ld.example", i % 1000);
		snprintf(url, sizeof url, "%s/img/%ld.jpg", host, i);
		store_candidate c = {.url = url, .host = host, .wnid = "n01440764", .source = "seeds",
		                     .query = "tench", .license = "cc0", .author = "bench"};
		if (store_candidate_add(s, run, &c, NULL, NULL))
			return -1;
	}
	return store_commit(s);
}

static void one_url(void *ctx, const store_pending *p)
{
	int64_t *ids = ctx;
	ids[++ids[0]] = p->id;
}

/* "Crawls" the part at dir: one fetch and one new image per url. */
static int crawl_part(const char *dir)
{
	store *p = NULL;
	char err[1024];
	if (store_open(dir, &p, err, sizeof err))
		return die(dir, err);
	int64_t run = 0, n = 0;
	store_count_urls(p, "pending", &n);
	int64_t *ids = calloc((size_t)n + 1, sizeof *ids);
	if (!ids || store_run_begin(p, "crawl", "natadv crawl (bench)", &run) ||
	    store_frontier_scan(p, 0, 1e12, (int)n, one_url, ids) < 0 || store_begin(p)) {
		free(ids);
		store_close(p);
		return die(dir, "cannot read its urls");
	}
	int rc = 0;
	for (int64_t i = 1; !rc && i <= ids[0]; i++) {
		char hash[33], body[64];
		/* spread like real (xxh128) hashes over the blob store's folders */
		unsigned long long x = (unsigned long long)ids[i];
		snprintf(hash, sizeof hash, "%016llx%016llx", x * 0x9E3779B97F4A7C15ull, x * 0xC2B2AE3D27D4EB4Full);
		int len = snprintf(body, sizeof body, "image bytes of url %lld", (long long)ids[i]);
		store_fetch f = {.url_id = ids[i], .run_id = run, .attempt = 1, .started = 1e9, .finished = 1e9 + 1,
		                 .http_status = 200, .declared_length = len, .received_length = len,
		                 .content_type = "image/jpeg", .outcome = "image"};
		store_image img = {hash, "0000000000000000000000000000000000000000000000000000000000000000", len,
		                   "jpeg", 100, 100, (uint64_t)ids[i]};
		rc = blob_put(store_objects_dir(p), hash, body, (size_t)len, err, sizeof err) ||
		     store_record_attempt(p, &f, &img, "fetched", 0, NULL);
	}
	if (!rc)
		rc = store_commit(p) || store_run_end(p, run, 0);
	free(ids);
	store_close(p);
	return rc ? die(dir, "cannot record its fetches") : 0;
}

struct tally {
	int64_t images, fetches, linked, copied;
	int failed;
};

static void merged(void *ctx, const scaleout_merged *m)
{
	struct tally *t = ctx;
	if (m->rc) {
		fprintf(stderr, "merge_bench: %s\n", m->err);
		t->failed++;
		return;
	}
	t->images += m->r->new_images;
	t->fetches += m->r->fetches;
}

int main(int argc, char **argv)
{
	long n = 200000, parts = 64;
	const char *root = NULL;
	int ch, stop = 0;
	while ((ch = getopt(argc, argv, "n:p:d:s")) != -1) {
		if (ch == 'n') n = strtol(optarg, NULL, 10);
		else if (ch == 'p') parts = strtol(optarg, NULL, 10);
		else if (ch == 'd') root = optarg;
		else if (ch == 's') stop = 1;
		else return die("usage", "merge_bench [-n IMAGES] [-p PARTS] [-d DIR] [-s]");
	}
	char tmpl[] = "/tmp/natadv-merge-bench.XXXXXX", ws[4200], out[4200], err[2048];
	if (!root && !(root = mkdtemp(tmpl)))
		return die("mkdtemp", "cannot make a folder");
	snprintf(ws, sizeof ws, "%s/ws", root);
	snprintf(out, sizeof out, "%s/parts", root);
	store *s = NULL;
	int64_t run = 0;
	if (store_create(ws, &s, err, sizeof err) || store_run_begin(s, "bench", "merge_bench", &run))
		return die(ws, s ? store_errmsg(s) : err);
	double t0 = now();
	if (queue(s, run, n))
		return die("queue", store_errmsg(s));
	fprintf(stderr, "queued %ld urls in %.1f s\n", n, now() - t0);
	scaleout_split_opts o = {.stage = "crawl", .by = "url", .parts = (int)parts, .out_dir = out, .run_id = run};
	scaleout_split_result r;
	t0 = now();
	if (scaleout_split(s, &o, &r, err, sizeof err))
		return die("split", err);
	double split_s = now() - t0;
	t0 = now();
	for (int k = 0; k < parts; k++) {
		char dir[4400];
		snprintf(dir, sizeof dir, "%s/part-%04d", out, k);
		if (crawl_part(dir))
			return 1;
	}
	fprintf(stderr, "crawled %ld parts (synthetic) in %.1f s\n", parts, now() - t0);
	sync();
	if (stop) {
		store_close(s);
		fprintf(stderr, "stopped before the merge: natadv -w %s merge %s\n", ws, out);
		return 0;
	}
	struct tally t = {0};
	char **dirs = calloc((size_t)parts, sizeof *dirs);
	for (int k = 0; dirs && k < parts; k++) {
		dirs[k] = malloc(4400);
		if (dirs[k])
			snprintf(dirs[k], 4400, "%s/part-%04d", out, k);
	}
	t0 = now();
	double c0 = cpu();
	if (!dirs || scaleout_merge_many(s, run, dirs, (size_t)parts, merged, &t, &t.linked, &t.copied) || t.failed)
		return die("merge", "failed");
	double merge_s = now() - t0, merge_cpu = cpu() - c0;
	printf("split: %ld urls into %ld parts in %.2f s (%.0f urls/s)\n", n, parts, split_s, n / split_s);
	printf("merge: %lld images (%lld fetches) from %ld parts in %.2f s: %.0f images/s; blobs %lld linked, "
	       "%lld copied; %.2f s of CPU (target >= 50000 images/s)\n",
	       (long long)t.images, (long long)t.fetches, parts, merge_s, t.images / merge_s, (long long)t.linked,
	       (long long)t.copied, merge_cpu);
	store_close(s);
	fprintf(stderr, "left in %s (remove it when done)\n", root);
	for (int k = 0; k < parts; k++)
		free(dirs[k]);
	free(dirs);
	return t.images == n ? 0 : 1;
}
