/* export.c — pkg_export: checks the selection in force of a class set, then
 * writes its release into a temporary folder beside the target (images
 * copied byte for byte or converted to JPEG, README.txt, the tar, the
 * manifest, classes.tsv, croissant.json, SHA256SUMS), moves it into place
 * in one rename and records it. See packager.h for the release's life. */
#include "packager/packager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "image/image.h"
#include "packager/pkg_internal.h"

#define JPEG_QUALITY 95
#define MAX_IMAGE_BYTES ((size_t)1 << 31)

/* One image file of the release. */
typedef struct outfile {
	char *path;                      /* FOLDER/<wnid>/<xxh128>.jpg */
	const store_release_item *it;
	int64_t label;
	const char *class_names;
	char sha256[65];
	int64_t bytes;
	int width, height;
	char converted[32];              /* "" when copied byte for byte */
} outfile;

typedef struct job {
	store *s;
	const pkg_export_opts *o;
	const char *version, *folder;
	store_release_plan *plan;
	int *counts;                     /* images per class, by class index */
	outfile *files;                  /* sorted by path */
	size_t nfiles;
	char tmp[4200];                  /* DIR.tmp-<pid>-XXXXXX */
	char readme_sha[65];
	char content_sha[65];
	int64_t released_unix;
	char released_at[32];
	char tar_sha[65];
	char manifest_sha[65];
	char *err;
	size_t errlen;
} job;

/* ---- checks before anything is written ---- */

/* A set name becomes a folder name: it must be one plain path component. */
static int check_set_name(const char *set, char *err, size_t errlen)
{
	size_t n = set ? strlen(set) : 0;
	int ok = n > 0 && n <= 100 && set[0] != '.';
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char ch = (unsigned char)set[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		     ch == '_' || ch == '.';
	}
	if (!ok) {
		natadv_errf(err, errlen, "cannot export set '%s': its name is not a plain folder name", set ? set : "");
		return NATADV_EINVAL;
	}
	return 0;
}

static int check_version(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	int ok = n > 0 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = v[i] > ' ' && v[i] < 127;
	if (!ok) {
		natadv_errf(err, errlen, "bad version '%s': 1 to 64 printable characters without spaces", v);
		return NATADV_EINVAL;
	}
	return 0;
}

/* ImageFolder labels folders by sorted name; the set's labels must agree. */
static int check_label_order(job *j)
{
	const store_release_plan *p = j->plan;
	for (size_t i = 0; i < p->nclasses; i++) {
		if (p->classes[i].label != (int64_t)i || (i && strcmp(p->classes[i - 1].wnid, p->classes[i].wnid) >= 0)) {
			natadv_errf(j->err, j->errlen,
			            "class set '%s' does not number its classes 0, 1, ... in sorted wnid order, "
			            "so loaders that label folders by sorted name would give other labels",
			            p->set);
			return NATADV_EINVAL;
		}
	}
	if (p->nclasses == 0) {
		natadv_errf(j->err, j->errlen, "class set '%s' has no classes", p->set);
		return NATADV_EINVAL;
	}
	return 0;
}

static int find_class(const store_release_plan *p, const char *wnid)
{
	size_t lo = 0, hi = p->nclasses;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->classes[mid].wnid, wnid);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int cmp_item_hash(const void *a, const void *b)
{
	const store_release_item *x = *(const store_release_item *const *)a, *y = *(const store_release_item *const *)b;
	int c = strcmp(x->image_hash, y->image_hash);
	return c ? c : strcmp(x->wnid, y->wnid);
}

/* An image accepted for two classes would be one file in two folders, and
 * TFDS keys examples by file name: refuse, naming the proposals. */
static int check_one_class_per_image(job *j)
{
	const store_release_plan *p = j->plan;
	const store_release_item **v = malloc((p->nitems + 1) * sizeof *v);
	if (!v) {
		natadv_errf(j->err, j->errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (size_t i = 0; i < p->nitems; i++)
		v[i] = &p->items[i];
	qsort(v, p->nitems, sizeof *v, cmp_item_hash);
	buf m;
	buf_init(&m, j->errlen ? j->errlen : 1);
	size_t conflicts = 0;
	for (size_t i = 0; i < p->nitems;) {
		size_t k = i + 1;
		while (k < p->nitems && strcmp(v[k]->image_hash, v[i]->image_hash) == 0)
			k++;
		if (k - i > 1) {
			buf_printf(&m, "%simage %s:", conflicts ? "; " : "", v[i]->image_hash);
			for (size_t x = i; x < k; x++) {
				char name[128];
				pkg_first_name(p->classes[find_class(p, v[x]->wnid)].names, name, sizeof name);
				buf_printf(&m, "%s %s %s (proposal %lld)", x > i ? "," : "", v[x]->wnid, name,
				           (long long)v[x]->proposal_id);
			}
			conflicts++;
		}
		i = k;
	}
	free(v);
	int rc = 0;
	if (conflicts) {
		natadv_errf(j->err, j->errlen,
		            "%zu image%s accepted for more than one class of '%s' (reject all but one with "
		            "'natadv review --reject ID'): %s",
		            conflicts, conflicts == 1 ? " is" : "s are", p->set, buf_cstr(&m));
		rc = NATADV_EINVAL;
	}
	buf_release(&m);
	return rc;
}

static int check_empty_classes(job *j)
{
	const store_release_plan *p = j->plan;
	for (size_t i = 0; i < p->nitems; i++)
		j->counts[find_class(p, p->items[i].wnid)]++;
	buf m;
	buf_init(&m, j->errlen ? j->errlen : 1);
	size_t empty = 0;
	for (size_t i = 0; i < p->nclasses; i++) {
		if (j->counts[i])
			continue;
		char name[128];
		pkg_first_name(p->classes[i].names, name, sizeof name);
		buf_printf(&m, "%s%s %s", empty ? ", " : "", p->classes[i].wnid, name);
		empty++;
	}
	int rc = 0;
	if (p->nitems == 0) {
		natadv_errf(j->err, j->errlen, "nothing to export: selection %lld of '%s' has no accepted proposal",
		            (long long)p->selection_id, p->set);
		rc = NATADV_EINVAL;
	} else if (empty && !j->o->partial) {
		natadv_errf(j->err, j->errlen,
		            "%zu of the %zu classes of '%s' have no accepted image (export anyway with --partial): %s",
		            empty, p->nclasses, p->set, buf_cstr(&m));
		rc = NATADV_EINVAL;
	}
	buf_release(&m);
	return rc;
}

/* ---- the target folder ---- */

/* A release folder holds SHA256SUMS or manifest.jsonl; an empty folder is
 * fine too. --force replaces nothing else, so a typo cannot delete $HOME. */
static int replaceable(const char *out)
{
	char p[4300];
	snprintf(p, sizeof p, "%s/SHA256SUMS", out);
	if (access(p, F_OK) == 0)
		return 1;
	snprintf(p, sizeof p, "%s/manifest.jsonl", out);
	if (access(p, F_OK) == 0)
		return 1;
	DIR *d = opendir(out);
	if (!d)
		return 0;
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

static int check_target(job *j, const char *out)
{
	struct stat sb;
	if (lstat(out, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		natadv_errf(j->err, j->errlen, "cannot stat '%s': %s", out, strerror(errno));
		return NATADV_EIO;
	}
	if (!j->o->force) {
		natadv_errf(j->err, j->errlen, "'%s' exists (use --force to replace it)", out);
		return NATADV_EEXIST;
	}
	if (!S_ISDIR(sb.st_mode) || !replaceable(out)) {
		natadv_errf(j->err, j->errlen, "'%s' exists and is not a release (no SHA256SUMS); not replacing it", out);
		return NATADV_EEXIST;
	}
	return 0;
}

/* Deletes DIR.tmp-<pid>-* and DIR.old-<pid>-* whose process is gone. */
static void clean_leftovers(const char *parent, const char *base)
{
	DIR *d = opendir(parent);
	if (!d)
		return;
	size_t bl = strlen(base);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strncmp(n, base, bl) != 0 || (strncmp(n + bl, ".tmp-", 5) != 0 && strncmp(n + bl, ".old-", 5) != 0))
			continue;
		char *end;
		long pid = strtol(n + bl + 5, &end, 10);
		if (end == n + bl + 5 || *end != '-' || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;  /* that export is still running (or not ours to judge) */
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", parent, n);
		pkg_remove_tree(path);
	}
	closedir(d);
}

/* ---- writing ---- */

/* The SHA-256 of n bytes at p (what names them) into hex; on failure err
 * is set and nothing is written with an unset digest. */
static int hash(job *j, const void *p, size_t n, const char *what, char hex[65])
{
	int rc = sha256_hex(p, n, hex);
	if (rc)
		natadv_errf(j->err, j->errlen, "cannot hash '%s': %s", what, natadv_strerror(rc));
	return rc;
}

static int write_image(job *j, outfile *f, img_ctx *ctx, buf *data, buf *jpg)
{
	const store_release_item *it = f->it;
	char path[4400], sha[65];
	buf bp;
	buf_init(&bp, 8192);
	int rc = blob_path(store_objects_dir(j->s), it->image_hash, &bp);
	if (!rc)
		rc = buf_read_file(data, buf_cstr(&bp), j->err, j->errlen);
	buf_release(&bp);
	if (rc) {
		if (rc == NATADV_EINVAL)
			natadv_errf(j->err, j->errlen, "bad image hash '%s'", it->image_hash);
		return rc;
	}
	/* The stored bytes are the provenance: they must still be what was fetched. */
	if ((rc = hash(j, data->data, data->len, it->image_hash, sha)) != 0)
		return rc;
	if (strcmp(sha, it->sha256) != 0 || (int64_t)data->len != it->bytes) {
		natadv_errf(j->err, j->errlen, "the stored bytes of image '%s' are damaged: sha-256 %s, recorded %s",
		            it->image_hash, sha, it->sha256);
		return NATADV_EFORMAT;
	}
	const void *out = data->data;
	size_t outlen = data->len;
	f->width = it->width;
	f->height = it->height;
	if (strcmp(it->format, "jpeg") != 0) {
		img_rgb rgb;
		rc = img_decode_rgb(ctx, data->data, data->len, NULL, &rgb, j->err, j->errlen);
		if (!rc)
			rc = img_encode_jpeg(&rgb, JPEG_QUALITY, jpg, j->err, j->errlen);
		if (rc)
			return rc;
		out = jpg->data;
		outlen = jpg->len;
		f->width = (int)rgb.width;
		f->height = (int)rgb.height;
		snprintf(f->converted, sizeof f->converted, "%s->jpeg q=%d", it->format, JPEG_QUALITY);
	}
	if ((rc = hash(j, out, outlen, f->path, f->sha256)) != 0)
		return rc;
	f->bytes = (int64_t)outlen;
	snprintf(path, sizeof path, "%s/%s", j->tmp, f->path);
	return pkg_write_file(path, out, outlen, j->err, j->errlen);
}

static int cmp_outfile(const void *a, const void *b)
{
	return strcmp(((const outfile *)a)->path, ((const outfile *)b)->path);
}

static int write_images(job *j)
{
	const store_release_plan *p = j->plan;
	char dir[4400];
	snprintf(dir, sizeof dir, "%s/%s", j->tmp, j->folder);
	int rc = pkg_mkdir(dir, j->err, j->errlen);
	for (size_t i = 0; !rc && i < p->nclasses; i++) {
		snprintf(dir, sizeof dir, "%s/%s/%s", j->tmp, j->folder, p->classes[i].wnid);
		rc = pkg_mkdir(dir, j->err, j->errlen);
	}
	if (rc)
		return rc;
	j->files = calloc(p->nitems, sizeof *j->files);
	if (!j->files) {
		natadv_errf(j->err, j->errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (size_t i = 0; i < p->nitems; i++) {
		outfile *f = &j->files[j->nfiles];
		const store_release_item *it = &p->items[i];
		int c = find_class(p, it->wnid);
		f->it = it;
		f->label = p->classes[c].label;
		f->class_names = p->classes[c].names;
		size_t len = strlen(j->folder) + strlen(it->wnid) + strlen(it->image_hash) + 8;
		if (!(f->path = malloc(len))) {
			natadv_errf(j->err, j->errlen, "out of memory");
			return NATADV_ENOMEM;
		}
		snprintf(f->path, len, "%s/%s/%s.jpg", j->folder, it->wnid, it->image_hash);
		j->nfiles++;
	}
	if (j->nfiles)
		qsort(j->files, j->nfiles, sizeof *j->files, cmp_outfile);
	img_ctx *ctx = img_ctx_new();
	buf data, jpg;
	buf_init(&data, MAX_IMAGE_BYTES);
	buf_init(&jpg, MAX_IMAGE_BYTES);
	if (!ctx) {
		natadv_errf(j->err, j->errlen, "out of memory");
		rc = NATADV_ENOMEM;
	}
	for (size_t i = 0; !rc && i < j->nfiles; i++)
		rc = write_image(j, &j->files[i], ctx, &data, &jpg);
	img_ctx_free(ctx);
	buf_release(&data);
	buf_release(&jpg);
	return rc;
}

static int write_buf(job *j, const char *name, const buf *b, char sha[65])
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", j->tmp, name);
	int rc = sha ? hash(j, b->data ? b->data : "", b->len, name, sha) : 0;
	if (rc)
		return rc;
	return pkg_write_file(path, b->data ? b->data : "", b->len, j->err, j->errlen);
}

static int write_readme(job *j)
{
	const store_release_plan *p = j->plan;
	pkg_readme_class *rc_ = calloc(p->nclasses, sizeof *rc_);
	char(*names)[128] = calloc(p->nclasses, sizeof *names);
	buf b;
	buf_init(&b, (size_t)1 << 26);
	int rc = rc_ && names ? 0 : NATADV_ENOMEM;
	for (size_t i = 0; !rc && i < p->nclasses; i++) {
		pkg_first_name(p->classes[i].names, names[i], sizeof names[i]);
		rc_[i] = (pkg_readme_class){p->classes[i].wnid, names[i], j->counts[i]};
	}
	pkg_readme r = {p->set, p->based_on, (int)j->nfiles, j->o->partial, rc_, p->nclasses,
	                p->nitems > 0 && p->items[0].source_wnid != NULL};
	if (!rc)
		rc = pkg_readme_write(&b, &r);
	if (rc)
		natadv_errf(j->err, j->errlen, "out of memory");
	char name[600];
	snprintf(name, sizeof name, "%s/README.txt", j->folder);
	if (!rc)
		rc = write_buf(j, name, &b, j->readme_sha);
	buf_release(&b);
	free(rc_);
	free(names);
	return rc;
}

/* The identity of the FOLDER/ contents: images and README.txt by path. */
static int content_identity(job *j)
{
	size_t n = j->nfiles + 1;
	const char **paths = malloc(n * sizeof *paths), **shas = malloc(n * sizeof *shas);
	char readme[600];
	snprintf(readme, sizeof readme, "%s/README.txt", j->folder);
	int rc = paths && shas ? 0 : NATADV_ENOMEM;
	if (!rc) {
		/* README.txt sorts before the wnid folders only if 'R' < their first
		 * letter; place it by comparison to keep the list sorted in general. */
		size_t o = 0, at = 0;
		while (at < j->nfiles && strcmp(j->files[at].path, readme) < 0)
			at++;
		for (size_t i = 0; i < j->nfiles; i++) {
			if (i == at) {
				paths[o] = readme;
				shas[o++] = j->readme_sha;
			}
			paths[o] = j->files[i].path;
			shas[o++] = j->files[i].sha256;
		}
		if (at == j->nfiles) {
			paths[o] = readme;
			shas[o++] = j->readme_sha;
		}
		rc = pkg_content_sha256(paths, shas, n, j->content_sha);
	}
	if (rc)
		natadv_errf(j->err, j->errlen, "out of memory");
	free(paths);
	free(shas);
	return rc;
}

/* A selection rebuilt from a release's manifest (rule 'manifest', see
 * rebuild_restore) carries that release's time in its params; 1 and *t
 * when the plan's selection is one. */
static int manifest_time(const store_release_plan *p, int64_t *t)
{
	if (!p->rule || strcmp(p->rule, "manifest") != 0 || !p->params)
		return 0;
	json_t *params = json_loads(p->params, 0, NULL);
	const char *at = json_string_value(json_object_get(params, "released_at"));
	int found = at && pkg_parse_utc(at, t) == 0 && *t > 0;
	json_decref(params);
	return found;
}

static int release_time(job *j)
{
	int64_t t = j->o->release_unix;
	if (t <= 0 && !manifest_time(j->plan, &t)) {
		int rc = store_release_time_find(j->s, j->plan->set, j->version, j->content_sha, &t);
		if (rc == NATADV_ENOTFOUND)
			t = (int64_t)time(NULL);
		else if (rc) {
			natadv_errf(j->err, j->errlen, "%s", store_errmsg(j->s));
			return rc;
		}
	}
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(j->released_at, sizeof j->released_at, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		natadv_errf(j->err, j->errlen, "bad release time %lld", (long long)t);
		return NATADV_EINVAL;
	}
	j->released_unix = t;
	return 0;
}

static void selection_rule(const store_release_plan *p, buf *b)
{
	buf_puts(b, p->rule ? p->rule : "");
	if (p->params && *p->params && strcmp(p->params, "{}") != 0)
		buf_printf(b, " %s", p->params);
}

static int write_manifest(job *j)
{
	const store_release_plan *p = j->plan;
	buf b, rule;
	buf_init(&b, (size_t)1 << 31);
	buf_init(&rule, 1 << 16);
	selection_rule(p, &rule);
	int rc = 0;
	for (size_t i = 0; !rc && i < j->nfiles; i++) {
		const outfile *f = &j->files[i];
		const store_release_item *it = f->it;
		char cname[128], pname[128], sname[128];
		pkg_first_name(f->class_names, cname, sizeof cname);
		pkg_first_name(it->pred_names, pname, sizeof pname);
		pkg_first_name(it->source_names ? it->source_names : "", sname, sizeof sname);
		pkg_manifest_entry e = {
			.path = f->path, .label = f->label, .wnid = it->wnid, .class_name = cname,
			.xxh128 = it->image_hash, .sha256 = f->sha256, .bytes = f->bytes, .width = f->width,
			.height = f->height, .converted = f->converted[0] ? f->converted : NULL,
			.source_sha256 = it->sha256, .source_bytes = it->bytes, .source = it->source, .query = it->query,
			.url = it->url, .final_url = it->final_url, .page_url = it->page_url, .license = it->license,
			.license_raw = it->license_raw, .author = it->author,
			.attribution = it->attribution, .title = it->title,
			.fetched_at = it->fetched_at, .http_status = it->http_status, .etag = it->etag,
			.model = p->model_name, .model_id = p->model_id, .pred_wnid = it->pred_wnid,
			.pred_name = it->pred_names ? pname : NULL, .confidence = it->confidence,
			.true_prob = it->true_prob, .selection_id = p->selection_id,
			.selection_rule = rule.len ? buf_cstr(&rule) : NULL, .review = it->review,
			.reviewer = it->reviewer, .reviewed_at = it->reviewed_at, .set = p->set, .version = j->version,
			.released_at = j->released_at, .source_wnid = it->source_wnid,
			.source_name = it->source_names ? sname : NULL, .msp = it->confidence,
		};
		rc = pkg_manifest_line(&b, &e);
		if (rc)
			natadv_errf(j->err, j->errlen, "cannot write the manifest line of '%s'", f->path);
	}
	if (!rc)
		rc = write_buf(j, "manifest.jsonl", &b, j->manifest_sha);
	buf_release(&b);
	buf_release(&rule);
	return rc;
}

static int write_classes(job *j, char sha[65], int64_t *bytes)
{
	const store_release_plan *p = j->plan;
	buf b;
	buf_init(&b, (size_t)1 << 26);
	int rc = buf_puts(&b, j->o->partial ? "label\twnid\tindex_1k\tname\timages\n" : "label\twnid\tindex_1k\tname\n");
	for (size_t i = 0; !rc && i < p->nclasses; i++) {
		const store_release_class *c = &p->classes[i];
		char name[128], idx[24] = "";
		pkg_first_name(c->names, name, sizeof name);
		if (c->index_1k >= 0)
			snprintf(idx, sizeof idx, "%lld", (long long)c->index_1k);
		rc = buf_printf(&b, "%lld\t%s\t%s\t%s", (long long)c->label, c->wnid, idx, name);
		if (!rc && j->o->partial)
			rc = buf_printf(&b, "\t%d", j->counts[i]);
		if (!rc)
			rc = buf_puts(&b, "\n");
	}
	if (rc)
		natadv_errf(j->err, j->errlen, "out of memory");
	else
		rc = write_buf(j, "classes.tsv", &b, sha);
	*bytes = (int64_t)b.len;
	buf_release(&b);
	return rc;
}

static int cmp_tally(const void *a, const void *b)
{
	const char *x = ((const pkg_tally *)a)->key, *y = ((const pkg_tally *)b)->key;
	return strcmp(x ? x : "", y ? y : "");
}

/* Counts the distinct values of field (an offset into the item) into t. */
static size_t tally(const job *j, size_t field, pkg_tally *t)
{
	size_t n = 0;
	for (size_t i = 0; i < j->plan->nitems; i++) {
		const char *v = *(const char *const *)((const char *)&j->plan->items[i] + field);
		size_t k = 0;
		while (k < n && !(v == t[k].key || (v && t[k].key && strcmp(v, t[k].key) == 0)))
			k++;
		if (k == n)
			t[n++] = (pkg_tally){v, 0};
		t[k].n++;
	}
	if (n)
		qsort(t, n, sizeof *t, cmp_tally);
	return n;
}

/* The people who accepted images (not --auto-accept), by name. */
static size_t tally_people(const job *j, pkg_tally *t)
{
	size_t n = 0;
	for (size_t i = 0; i < j->plan->nitems; i++) {
		const store_release_item *it = &j->plan->items[i];
		if (!it->reviewer || (it->review_mode && strcmp(it->review_mode, "auto") == 0))
			continue;
		size_t k = 0;
		while (k < n && strcmp(t[k].key, it->reviewer) != 0)
			k++;
		if (k == n)
			t[n++] = (pkg_tally){it->reviewer, 0};
		t[k].n++;
	}
	if (n)
		qsort(t, n, sizeof *t, cmp_tally);
	return n;
}

static int write_croissant(job *j, const char *classes_sha, int64_t classes_bytes, int64_t tar_bytes,
                           int64_t manifest_bytes)
{
	const store_release_plan *p = j->plan;
	size_t n = p->nitems ? p->nitems : 1;
	pkg_tally *lic = calloc(n, sizeof *lic), *src = calloc(n, sizeof *src), *rev = calloc(n, sizeof *rev);
	buf b, rule;
	buf_init(&b, (size_t)1 << 26);
	buf_init(&rule, 1 << 16);
	int rc = lic && src && rev ? 0 : NATADV_ENOMEM;
	if (!rc) {
		pkg_croissant c = {
			.set = p->set, .folder = j->folder, .based_on = p->based_on, .version = j->version,
			.released_at = j->released_at, .images = (int)j->nfiles, .classes = (int)p->nclasses,
			.partial = j->o->partial, .model_name = p->model_name, .model_id = p->model_id,
			.selection_id = p->selection_id, .tar_sha256 = j->o->tar ? j->tar_sha : NULL,
			.tar_bytes = tar_bytes, .manifest_sha256 = j->manifest_sha, .manifest_bytes = manifest_bytes,
			.classes_sha256 = classes_sha, .classes_bytes = classes_bytes,
		};
		for (size_t i = 0; i < p->nclasses; i++)
			c.empty += j->counts[i] == 0;
		for (size_t i = 0; i < j->nfiles; i++)
			c.converted += j->files[i].converted[0] != 0;
		for (size_t i = 0; i < p->nitems; i++) {
			const char *m = p->items[i].review_mode;
			if (m && strcmp(m, "auto") == 0)
				c.auto_accepted++;
			else
				c.by_person++;
		}
		selection_rule(p, &rule);
		c.selection_rule = buf_cstr(&rule);
		c.nlicenses = tally(j, offsetof(store_release_item, license), lic);
		c.nsources = tally(j, offsetof(store_release_item, source), src);
		c.nreviewers = tally_people(j, rev);
		c.licenses = lic;
		c.sources = src;
		c.reviewers = rev;
		rc = pkg_croissant_write(&b, &c);
	}
	if (rc)
		natadv_errf(j->err, j->errlen, "out of memory");
	else
		rc = write_buf(j, "croissant.json", &b, NULL);
	free(lic);
	free(src);
	free(rev);
	buf_release(&b);
	buf_release(&rule);
	return rc;
}

static int sync_folders(job *j)
{
	char dir[4400];
	int rc = 0;
	for (size_t i = 0; !rc && i < j->plan->nclasses; i++) {
		snprintf(dir, sizeof dir, "%s/%s/%s", j->tmp, j->folder, j->plan->classes[i].wnid);
		rc = pkg_sync_dir(dir, j->err, j->errlen);
	}
	snprintf(dir, sizeof dir, "%s/%s", j->tmp, j->folder);
	if (!rc)
		rc = pkg_sync_dir(dir, j->err, j->errlen);
	if (!rc)
		rc = pkg_sync_dir(j->tmp, j->err, j->errlen);
	return rc;
}

static int write_release(job *j)
{
	int rc = write_images(j);
	if (!rc)
		rc = write_readme(j);
	if (!rc)
		rc = content_identity(j);
	if (!rc)
		rc = release_time(j);
	int64_t tar_bytes = 0;
	if (!rc && j->o->tar) {
		char tar[4400];
		snprintf(tar, sizeof tar, "%s/%s.tar", j->tmp, j->folder);
		rc = pkg_tar_write(j->tmp, j->folder, tar, j->released_unix, j->tar_sha, j->err, j->errlen);
		struct stat sb;
		if (!rc && stat(tar, &sb) == 0)
			tar_bytes = (int64_t)sb.st_size;
	}
	if (!rc)
		rc = write_manifest(j);
	char classes_sha[65];
	int64_t classes_bytes = 0, manifest_bytes = 0;
	if (!rc)
		rc = write_classes(j, classes_sha, &classes_bytes);
	if (!rc) {
		char path[4400];
		struct stat sb;
		snprintf(path, sizeof path, "%s/manifest.jsonl", j->tmp);
		if (stat(path, &sb) == 0)
			manifest_bytes = (int64_t)sb.st_size;
		rc = write_croissant(j, classes_sha, classes_bytes, tar_bytes, manifest_bytes);
	}
	if (!rc) {
		buf sums;
		buf_init(&sums, (size_t)1 << 30);
		rc = pkg_sha256sums(j->tmp, &sums, j->err, j->errlen);
		if (!rc)
			rc = write_buf(j, "SHA256SUMS", &sums, NULL);
		buf_release(&sums);
	}
	if (!rc)
		rc = sync_folders(j);
	return rc;
}

/* Moves the finished release to out: a rename, or with an existing release
 * an atomic exchange (the old one then deleted from the temporary name). */
static int move_into_place(job *j, const char *out, const char *parent)
{
	struct stat sb;
	int exists = lstat(out, &sb) == 0;
	if (!exists) {
		if (rename(j->tmp, out) != 0) {
			natadv_errf(j->err, j->errlen, "cannot move the release to '%s': %s", out, strerror(errno));
			return NATADV_EIO;
		}
		return pkg_sync_dir(parent, j->err, j->errlen);
	}
	if (renameat2(AT_FDCWD, j->tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
		int rc = pkg_sync_dir(parent, j->err, j->errlen);
		pkg_remove_tree(j->tmp);  /* now the old release */
		return rc;
	}
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
		natadv_errf(j->err, j->errlen, "cannot replace '%s': %s", out, strerror(errno));
		return NATADV_EIO;
	}
	/* A file system without RENAME_EXCHANGE: two renames, the old release
	 * kept under DIR.old-<pid>-* until the new one is in place. */
	char old[4300];
	const char *suffix = strrchr(j->tmp, '-');
	snprintf(old, sizeof old, "%s.old-%ld%s", out, (long)getpid(), suffix ? suffix : "-0");
	if (rename(out, old) != 0) {
		natadv_errf(j->err, j->errlen, "cannot move '%s' away: %s", out, strerror(errno));
		return NATADV_EIO;
	}
	if (rename(j->tmp, out) != 0) {
		natadv_errf(j->err, j->errlen, "cannot move the release to '%s': %s", out, strerror(errno));
		rename(old, out);
		return NATADV_EIO;
	}
	int rc = pkg_sync_dir(parent, j->err, j->errlen);
	pkg_remove_tree(old);
	return rc;
}

static int record(job *j, const char *out, pkg_export_result *r)
{
	store_release_file *v = calloc(j->nfiles ? j->nfiles : 1, sizeof *v);
	if (!v) {
		natadv_errf(j->err, j->errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (size_t i = 0; i < j->nfiles; i++) {
		const outfile *f = &j->files[i];
		v[i] = (store_release_file){f->path, f->it->image_hash, f->it->wnid, f->it->proposal_id,
		                            f->it->review_id, f->sha256, f->bytes, f->converted[0] ? f->converted : NULL};
	}
	char abs[PATH_MAX];
	store_release rel = {
		.set = j->plan->set, .version = j->version, .selection_id = j->plan->selection_id,
		.content_sha256 = j->content_sha, .released_at = j->released_at, .released_unix = j->released_unix,
		.partial = j->o->partial, .images = (int)j->nfiles, .out_dir = realpath(out, abs) ? abs : out,
		.manifest_sha256 = j->manifest_sha, .tar_sha256 = j->o->tar ? j->tar_sha : NULL, .run_id = j->o->run_id,
	};
	int rc = store_release_add(j->s, &rel, v, j->nfiles, &r->release_id);
	if (rc)
		natadv_errf(j->err, j->errlen, "the release is in '%s' but could not be recorded: %s", out,
		            store_errmsg(j->s));
	free(v);
	return rc;
}

int pkg_export(store *s, const pkg_export_opts *o, pkg_export_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	job j = {.s = s, .o = o, .err = err, .errlen = errlen};
	j.version = o->version ? o->version : "1.0"; /* "" is refused below */
	char out[4096], parent[4096], base[4096];
	int rc = check_set_name(o->set, err, errlen);
	if (!rc)
		rc = check_version(j.version, err, errlen);
	if (rc)
		return rc;
	size_t n = o->out ? strlen(o->out) : 0;
	while (n > 1 && o->out[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof out - 64) {
		natadv_errf(err, errlen, "bad output folder '%s'", o->out ? o->out : "");
		return NATADV_EINVAL;
	}
	memcpy(out, o->out, n);
	out[n] = '\0';
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", out);
	snprintf(parent, sizeof parent, "%s", dirname(tmp));
	snprintf(tmp, sizeof tmp, "%s", out);
	snprintf(base, sizeof base, "%s", basename(tmp));
	if (!strcmp(base, "/") || !strcmp(base, ".") || !strcmp(base, "..")) {
		natadv_errf(err, errlen, "bad output folder '%s'", out);
		return NATADV_EINVAL;
	}
	j.folder = pkg_folder_name(o->set);

	rc = store_release_plan_get(s, o->set, &j.plan);
	if (rc) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return rc;
	}
	j.counts = calloc(j.plan->nclasses ? j.plan->nclasses : 1, sizeof *j.counts);
	if (!j.counts) {
		natadv_errf(err, errlen, "out of memory");
		rc = NATADV_ENOMEM;
	}
	if (!rc)
		rc = check_label_order(&j);
	if (!rc)
		rc = check_one_class_per_image(&j);
	if (!rc)
		rc = check_empty_classes(&j);
	if (!rc)
		rc = check_target(&j, out);
	if (!rc)
		rc = pkg_mkdirs(parent, err, errlen);
	if (!rc) {
		clean_leftovers(parent, base);
		snprintf(j.tmp, sizeof j.tmp, "%s.tmp-%ld-XXXXXX", out, (long)getpid());
		if (!mkdtemp(j.tmp)) {
			natadv_errf(err, errlen, "cannot create a folder beside '%s': %s", out, strerror(errno));
			j.tmp[0] = '\0';
			rc = NATADV_EIO;
		}
	}
	if (!rc && chmod(j.tmp, 0755) != 0) {
		natadv_errf(err, errlen, "cannot set the mode of '%s': %s", j.tmp, strerror(errno));
		rc = NATADV_EIO;
	}
	if (!rc)
		rc = write_release(&j);
	if (!rc)
		rc = move_into_place(&j, out, parent);
	if (!rc) {
		j.tmp[0] = '\0';
		rc = record(&j, out, r);
	}
	if (!rc) {
		r->images = (int)j.nfiles;
		if (o->tar)
			memcpy(r->tar_sha256, j.tar_sha, sizeof r->tar_sha256);
	}
	if (j.tmp[0])
		pkg_remove_tree(j.tmp);
	for (size_t i = 0; i < j.nfiles; i++)
		free(j.files[i].path);
	free(j.files);
	free(j.counts);
	store_release_plan_free(j.plan);
	return rc;
}
