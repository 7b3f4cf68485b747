/* cmd_audit.c — `natadv audit PATH|HASH|URL [--json]`: finds one image by
 * content hash (or a prefix), SHA-256, source URL or release path, and
 * prints its whole history: tags and provenance, fetches, scores,
 * selections, reviews and the releases that hold it. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "crawler/url.h"


static void help(void)
{
	printf("usage: natadv audit [--json] PATH|HASH|URL\n\n"
	       "Prints the whole history of one image: its hashes and size, every class tag\n"
	       "and where it came from (source, query, seed line, discover request, run),\n"
	       "every fetch attempt of its urls (status, redirects, headers kept), robots.txt\n"
	       "for its hosts, every score, the selections that proposed it, every review\n"
	       "decision and the one in force, and the releases that contain it.\n\n"
	       "The image is found by:\n"
	       "  HASH   its XXH3-128 (32 hex digits) or a unique prefix of 8 or more,\n"
	       "         or a SHA-256 (64 hex digits) of the image or of its release file\n"
	       "  URL    a queued url or the url a fetch ended at (normalised if need be)\n"
	       "  PATH   a release path such as imagenet-a/n01498041/HASH.jpg, or any path\n"
	       "         ending in one; else a file on disk, found by its content\n\n"
	       "--json prints one object with the keys image, tags, fetches, robots, scores,\n"
	       "selections, reviews, review_in_force and releases (arrays but image).\n"
	       "Exit status: 0 found, 1 not found or ambiguous, 2 usage.\n");
}

/* The key in the crawler's normal form when it is a URL we would fetch and
 * that differs from it, into norm; else NULL. */
static const char *normal_url(const char *key, buf *norm)
{
	char err[256];
	if (strncasecmp(key, "http://", 7) && strncasecmp(key, "https://", 8))
		return NULL;
	if (url_check(key, norm, NULL, err, sizeof err) != 0 || strcmp(buf_cstr(norm), key) == 0)
		return NULL;
	return buf_cstr(norm);
}

/* ---- human output ---- */

/* The string at key, or NULL when it is absent, null or not a string. */
static const char *S(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The string at key for a place in a line that must say something: none
 * (V: "-") when there is no string there; printf never sees NULL. */
static const char *D(json_t *o, const char *key, const char *none)
{
	const char *v = S(o, key);
	return v ? v : none;
}

static const char *V(json_t *o, const char *key)
{
	return D(o, key, "-");
}

static long long I(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "HTTP 200", or "no response" when o has no http_status. */
static const char *http_status(json_t *o, char out[32])
{
	json_t *v = json_object_get(o, "http_status");
	if (!json_is_integer(v))
		return "no response";
	snprintf(out, 32, "HTTP %lld", (long long)json_integer_value(v));
	return out;
}

static int has(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}

/* "label  value" on one line, indented; nothing when value is NULL. */
static void field(int indent, const char *label, const char *value)
{
	if (value && *value)
		printf("%*s%-16s %s\n", indent, "", label, value);
}

/* Prints the value of key in o formatted as text (strings bare, numbers,
 * JSON for arrays and objects); nothing when null or absent. */
static void field_json(int indent, const char *label, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		field(indent, label, json_string_value(v));
		return;
	}
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
	field(indent, label, text);
	free(text);
}

static void heading(const char *title, json_t *arr)
{
	size_t n = json_array_size(arr);
	printf("\n%s (%zu)\n", title, n);
	if (n == 0)
		printf("  none\n");
}

/* The header block as kept, one indented line per header. */
static void print_headers(const char *h)
{
	if (!h || !*h)
		return;
	printf("    headers\n");
	while (*h) {
		size_t n = strcspn(h, "\r\n");
		if (n)
			printf("      %.*s\n", (int)n, h);
		h += n;
		h += strspn(h, "\r\n");
	}
}

static void print_image(json_t *img)
{
	char line[256], num[32];
	printf("image %s\n", V(img, "xxh128"));
	field(2, "sha256", S(img, "sha256"));
	snprintf(line, sizeof line, "%s, %lld x %lld, %s bytes", V(img, "format"),
	         I(img, "width"),
	         I(img, "height"),
	         cli_num(json_integer_value(json_object_get(img, "bytes")), num));
	field(2, "format", line);
	field(2, "dhash", S(img, "dhash"));
	field(2, "first seen", S(img, "first_seen"));
	field(2, "stored at", S(img, "blob"));
}

static void print_run(int indent, const char *label, json_t *run)
{
	if (!run || json_is_null(run))
		return;
	char line[1024];
	snprintf(line, sizeof line, "run %lld at %s: %s", I(run, "id"),
	         V(run, "started_at"), V(run, "args"));
	field(indent, label, line);
}

/* Where a fetch or score ran: the host, the part it was merged from, the
 * Slurm job, and a score's GEMM kernels; nothing when unknown (runs before
 * these were recorded). */
static void print_ran_on(int indent, json_t *o)
{
	json_t *r = json_object_get(o, "ran_on");
	if (!r || json_is_null(r))
		return;
	char line[1024];
	int n = snprintf(line, sizeof line, "%s", D(r, "host", "unknown host"));
	if (S(r, "part"))
		n += snprintf(line + n, sizeof line - (size_t)n, ", part %s", S(r, "part"));
	if (S(r, "slurm_job_id") && n < (int)sizeof line)
		n += snprintf(line + n, sizeof line - (size_t)n, ", slurm job %s", S(r, "slurm_job_id"));
	if (S(r, "slurm_array_task_id") && n < (int)sizeof line)
		n += snprintf(line + n, sizeof line - (size_t)n, " (array %s task %s)",
		              D(r, "slurm_array_job_id", "?"), S(r, "slurm_array_task_id"));
	if (S(r, "gemm_kernels") && n < (int)sizeof line)
		snprintf(line + n, sizeof line - (size_t)n, ", %s gemm kernels", S(r, "gemm_kernels"));
	field(indent, "ran on", line);
}

static void print_tags(json_t *tags)
{
	size_t i;
	json_t *t;
	heading("class tags", tags);
	json_array_foreach(tags, i, t) {
		printf("  %s %s\n", V(t, "wnid"), D(t, "class_name", ""));
		char line[1024];
		snprintf(line, sizeof line, "%s (%s)", V(t, "url"), V(t, "url_state"));
		field(4, "url", line);
		field(4, "source", S(t, "source"));
		field(4, "query", S(t, "query"));
		field(4, "page url", S(t, "page_url"));
		field(4, "license", S(t, "license"));
		field(4, "license as given", S(t, "license_raw"));
		field(4, "author", S(t, "author"));
		field(4, "attribution", S(t, "attribution"));
		field(4, "title", S(t, "title"));
		field(4, "source id", S(t, "source_id"));
		field(4, "seed line", S(t, "seed_ref"));
		field(4, "added", S(t, "added_at"));
		print_run(4, "by", json_object_get(t, "run"));
		json_t *a = json_object_get(t, "api_request");
		if (a && !json_is_null(a)) {
			snprintf(line, sizeof line, "#%lld %s %s at %s, HTTP %lld, body sha256 %s",
			         I(a, "id"), V(a, "source"), V(a, "url"),
			         V(a, "started_at"), I(a, "http_status"),
			         D(a, "body_sha256", "-"));
			field(4, "found by request", line);
		}
	}
}

/* One request (an image fetch or a robots.txt fetch) as a line: its URL,
 * attempt, time, HTTP status, what came of it and the error if any. */
static void request_line(json_t *o, const char *result, const char *error)
{
	char status[32];
	printf("  %s", V(o, "url"));
	if (has(o, "attempt"))
		printf(" attempt %lld", I(o, "attempt"));
	printf(" at %s: %s, %s%s%s\n", V(o, "started_at"), http_status(o, status), result, error ? ", " : "",
	       error ? error : "");
}

static void print_fetches(json_t *fetches)
{
	size_t i;
	json_t *f;
	heading("fetches", fetches);
	json_array_foreach(fetches, i, f) {
		request_line(f, V(f, "outcome"), NULL);
		field(4, "error", S(f, "error"));
		if (S(f, "final_url") && S(f, "url") && strcmp(S(f, "final_url"), S(f, "url")) != 0)
			field(4, "final url", S(f, "final_url"));
		if (json_array_size(json_object_get(f, "redirects")) > 0)
			field_json(4, "redirects", f, "redirects");
		field(4, "content type", S(f, "content_type"));
		field_json(4, "bytes received", f, "received_length");
		field_json(4, "bytes declared", f, "declared_length");
		field(4, "etag", S(f, "etag"));
		field(4, "last modified", S(f, "last_modified"));
		field(4, "image", S(f, "image_hash"));
		field_json(4, "run", f, "run_id");
		print_ran_on(4, f);
		print_headers(S(f, "headers"));
	}
}

static void print_robots(json_t *robots)
{
	size_t i;
	json_t *r;
	heading("robots.txt", robots);
	json_array_foreach(robots, i, r)
		request_line(r, V(r, "policy"), S(r, "error"));
}

static void print_scores(json_t *scores)
{
	size_t i, j;
	json_t *sc, *t;
	char line[512];
	heading("scores", scores);
	json_array_foreach(scores, i, sc) {
		printf("  %s (%s, %.16s…) at %s, run %lld\n", V(sc, "model"), V(sc, "model_arch"), V(sc, "model_id"),
		       V(sc, "scored_at"), I(sc, "run_id"));
		print_ran_on(4, sc);
		field(4, "unscorable", S(sc, "error"));
		if (has(sc, "pred_1k")) {
			snprintf(line, sizeof line, "%lld %s %s, p %.4f", I(sc, "pred_1k"),
			         D(sc, "pred_1k_wnid", ""), D(sc, "pred_1k_name", ""),
			         json_number_value(json_object_get(sc, "prob_1k")));
			field(4, "1k prediction", line);
		}
		if (has(sc, "pred_subset_wnid")) {
			snprintf(line, sizeof line, "%s %s, p %.4f", V(sc, "pred_subset_wnid"),
			         D(sc, "pred_subset_name", ""),
			         json_number_value(json_object_get(sc, "prob_subset")));
			field(4, "set prediction", line);
		}
		json_array_foreach(json_object_get(sc, "true_class_probs"), j, t) {
			int n = snprintf(line, sizeof line, "%s %s:", V(t, "wnid"), D(t, "class_name", ""));
			if (has(t, "p_1k"))
				n += snprintf(line + n, sizeof line - (size_t)n, " p 1k %.4f", json_number_value(json_object_get(t, "p_1k")));
			if (has(t, "p_subset"))
				snprintf(line + n, sizeof line - (size_t)n, " p set %.4f", json_number_value(json_object_get(t, "p_subset")));
			field(4, "true class", line);
		}
	}
}

static void print_selections(json_t *sels)
{
	size_t i;
	json_t *p;
	char line[512];
	heading("selections", sels);
	json_array_foreach(sels, i, p) {
		int in_force = json_is_true(json_object_get(p, "in_force"));
		printf("  selection %lld of '%s', rule %s%s\n", I(p, "selection_id"),
		       V(p, "set"), V(p, "rule"), in_force ? " (in force)" : has(p, "finished_at") ? " (superseded)" : " (unfinished)");
		field_json(4, "params", p, "params");
		if (has(p, "model_id")) {
			snprintf(line, sizeof line, "%s (%s)", D(p, "model", "?"), V(p, "model_id"));
			field(4, "model", line);
		}
		if (json_array_size(json_object_get(p, "also_model_ids")) > 0)
			field_json(4, "also wrong for", p, "also_model_ids");
		field(4, "created", S(p, "created_at"));
		snprintf(line, sizeof line, "%lld: %s predicted %s, confidence %.4f, true-class p %.4f",
		         I(p, "proposal_id"), V(p, "wnid"), V(p, "pred_wnid"),
		         json_number_value(json_object_get(p, "confidence")), json_number_value(json_object_get(p, "true_prob")));
		field(4, "proposal", line);
		if (has(p, "source_wnid"))
			field(4, "found as", V(p, "source_wnid"));  /* rule 'ood': the out-of-distribution class */
		if (has(p, "duplicate_of")) {
			snprintf(line, sizeof line, "near duplicate of proposal %lld (image %s, distance %lld)",
			         I(p, "duplicate_of"),
			         D(p, "duplicate_of_image", "?"),
			         I(p, "distance"));
			field(4, "status", line);
		} else {
			field(4, "status", S(p, "status"));
		}
	}
}

/* One review row as a line: who, when, what, how and why. */
static void review_line(json_t *r, const char *id_key)
{
	printf("  #%lld %s %s %s for '%s' %s (%s)", (long long)json_integer_value(json_object_get(r, id_key)), V(r, "at"),
	       V(r, "reviewer"), V(r, "decision"), V(r, "set"), V(r, "wnid"), V(r, "mode"));
	if (has(r, "undoes"))
		printf(", undoes #%lld", I(r, "undoes"));
	if (S(r, "reason"))
		printf(": %s", V(r, "reason"));
	putchar('\n');
}

static void print_reviews(json_t *reviews, json_t *in_force)
{
	size_t i;
	json_t *r;
	heading("reviews", reviews);
	json_array_foreach(reviews, i, r)
		review_line(r, "id");
	heading("decision in force", in_force);
	json_array_foreach(in_force, i, r)
		review_line(r, "review_id");
}

static void print_releases(json_t *rels)
{
	size_t i;
	json_t *r;
	heading("releases", rels);
	json_array_foreach(rels, i, r) {
		printf("  '%s' version %s released %s: %s\n", V(r, "set"), V(r, "version"), V(r, "released_at"), V(r, "path"));
		field(4, "file sha256", S(r, "sha256"));
		field(4, "converted", S(r, "converted"));
		field(4, "tar sha256", S(r, "tar_sha256"));
		field(4, "manifest sha256", S(r, "manifest_sha256"));
		field(4, "written to", S(r, "out_dir"));
	}
}

static void print_human(json_t *doc)
{
	print_image(json_object_get(doc, "image"));
	print_tags(json_object_get(doc, "tags"));
	print_fetches(json_object_get(doc, "fetches"));
	print_robots(json_object_get(doc, "robots"));
	print_scores(json_object_get(doc, "scores"));
	print_selections(json_object_get(doc, "selections"));
	print_reviews(json_object_get(doc, "reviews"), json_object_get(doc, "review_in_force"));
	print_releases(json_object_get(doc, "releases"));
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int json = 0, ch;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("audit", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("audit", optind < argc ? "one image at a time" : "which image? give a PATH, HASH or URL");
	const char *key = argv[optind];
	store_audit_match f;
	buf norm;
	buf_init(&norm, URL_MAX_LEN + 64);
	int rc = store_audit_resolve(c->st, key, normal_url(key, &norm), &f);
	buf_release(&norm);
	if (rc) {
		cli_error("cannot audit '%s': %s", key, store_errmsg(c->st));
		return EXIT_FAIL;
	}
	int n = f.n;
	if (n == 0) {
		cli_error("no image matches '%s' in this workspace", key);
		return EXIT_FAIL;
	}
	if (n > 1) {
		cli_error("'%s' (%s) matches %s%d images; audit one by its full hash:", key, f.how,
		          n >= STORE_AUDIT_MAX_MATCHES ? "at least " : "", n);
		for (int i = 0; i < f.n; i++)
			fprintf(stderr, "  %s\n", f.hashes[i]);
		return EXIT_FAIL;
	}
	json_t *doc = NULL;
	if (store_audit_image(c->st, f.hashes[0], &doc) != 0) {
		cli_error("cannot audit '%s': %s", key, store_errmsg(c->st));
		return EXIT_FAIL;
	}
	if (json)
		return cli_json_put(doc, JSON_REAL_PRECISION(9)) ? EXIT_FAIL : EXIT_OK;
	print_human(doc);
	json_decref(doc);
	return EXIT_OK;
}
