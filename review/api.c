/* api.c — the review page's JSON API and its images: proposal lists with
 * filters and paging, per-class counters, decisions and undo (appended to the
 * review log through store_review_add), and images and thumbnails looked up
 * by validated hash. Each function fills an rv_reply; server.c sends it. */
#include "review/review_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jstr.h"

#define PAGE_DEFAULT 60
#define PAGE_MAX 500
#define THUMB_SHORT 256          /* thumbnail's shorter side */
#define THUMB_LONG_MAX 768       /* and its longer side at most */
#define THUMB_QUALITY 82
#define BLOB_READ_MAX (256u << 20)
#define IMMUTABLE "private, max-age=31536000, immutable"

void rv_reply_error(rv_reply *r, unsigned status, const char *msg)
{
	json_t *o = json_pack("{s:o}", "error", jstr_new(msg));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	r->status = status;
	r->ctype = "application/json";
	buf_reset(&r->body);
	if (!text || buf_puts(&r->body, text) != 0) {
		buf_reset(&r->body);
		r->status = 500;
	}
	free(text);
	json_decref(o);
}

/* Serialises o (stolen) as the 200 reply. */
static void reply_json(rv_reply *r, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text) {
		rv_reply_error(r, 500, "out of memory");
		return;
	}
	buf_reset(&r->body);
	if (buf_puts(&r->body, text) != 0)
		rv_reply_error(r, 500, "reply too large");
	else {
		r->status = 200;
		r->ctype = "application/json";
	}
	free(text);
}

/* Maps a store error to a status and its message. */
static void reply_store_error(review_server *srv, rv_reply *r, int rc)
{
	unsigned status = rc == NATADV_ENOTFOUND ? 404 : rc == NATADV_EFORMAT ? 400
	                  : rc == NATADV_EINVAL || rc == NATADV_EEXIST ? 409 : 500;
	rv_reply_error(r, status, store_errmsg(srv->st));
}

static json_t *proposal_json(const store_proposal *p)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "image_hash", jstr_new(p->image_hash));
	json_object_set_new(o, "wnid", jstr_new(p->wnid));
	json_object_set_new(o, "class_name", jstr_new(p->class_name));
	json_object_set_new(o, "pred_wnid", jstr_new(p->pred_wnid));
	json_object_set_new(o, "pred_name", jstr_new(p->pred_name));
	json_object_set_new(o, "source_wnid", jstr_new(p->source_wnid));
	json_object_set_new(o, "source_name", jstr_new(p->source_name));
	json_object_set_new(o, "confidence", json_real(p->confidence));
	json_object_set_new(o, "true_prob", json_real(p->true_prob));
	const char *decision = p->decision == STORE_UNDECIDED ? "" : store_decision_name(p->decision);
	json_object_set_new(o, "decision", jstr_new(decision));
	json_object_set_new(o, "review_id", p->review_id ? json_integer(p->review_id) : json_null());
	json_object_set_new(o, "reason", jstr_new(p->reason));
	json_object_set_new(o, "reviewer", jstr_new(p->reviewer));
	json_object_set_new(o, "source", jstr_new(p->source));
	json_object_set_new(o, "license", jstr_new(p->license));
	json_object_set_new(o, "author", jstr_new(p->author));
	json_object_set_new(o, "attribution", jstr_new(p->attribution));
	json_object_set_new(o, "title", jstr_new(p->title));
	json_object_set_new(o, "page_url", jstr_new(p->page_url));
	json_object_set_new(o, "url", jstr_new(p->url));
	json_object_set_new(o, "format", jstr_new(p->format));
	json_object_set_new(o, "width", json_integer(p->width));
	json_object_set_new(o, "height", json_integer(p->height));
	return o;
}

static void add_row(void *ctx, const store_proposal *p)
{
	json_array_append_new(ctx, proposal_json(p));
}

/* Strict number in [lo, hi]: digits with an optional fraction, nothing else. */
static int parse_num(const char *v, double lo, double hi, double *out)
{
	if (!v || !*v || strlen(v) > 32 || !strchr("0123456789.", v[0]))
		return -1;
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || *end || !isfinite(d) || d < lo || d > hi)
		return -1;
	*out = d;
	return 0;
}

void rv_api_proposals(review_server *srv, rv_arg_fn arg, void *actx, rv_reply *r)
{
	store_proposal_filter f = {.set = srv->set, .state = -1, .min_conf = 0, .max_conf = 1, .limit = PAGE_DEFAULT};
	const char *cls = arg(actx, "class"), *state = arg(actx, "state");
	if (cls && *cls) {
		if (strlen(cls) > 64) {
			rv_reply_error(r, 400, "class too long");
			return;
		}
		f.wnid = cls;
	}
	if (state && *state && strcmp(state, "all")) {
		if (!strcmp(state, "undecided"))
			f.state = STORE_UNDECIDED;
		else if (!strcmp(state, "accepted"))
			f.state = STORE_ACCEPT;
		else if (!strcmp(state, "rejected"))
			f.state = STORE_REJECT;
		else {
			rv_reply_error(r, 400, "state must be undecided, accepted, rejected or all");
			return;
		}
	}
	double offset = 0, limit = PAGE_DEFAULT, id = 0;
	const struct {
		const char *name;
		double lo, hi;
		int whole;
		double *dst;
		const char *msg;
	} nums[] = {
		{"min_conf", 0, 1, 0, &f.min_conf, "min_conf must be a number from 0 to 1"},
		{"max_conf", 0, 1, 0, &f.max_conf, "max_conf must be a number from 0 to 1"},
		{"offset", 0, 1e9, 1, &offset, "offset must be a whole number"},
		{"limit", 1, PAGE_MAX, 1, &limit, "limit must be a whole number from 1 to 500"},
		{"id", 1, 9e15, 1, &id, "id must be a proposal id"},
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		const char *v = arg(actx, nums[i].name);
		if (v && *v && (parse_num(v, nums[i].lo, nums[i].hi, nums[i].dst) ||
		                (nums[i].whole && *nums[i].dst != floor(*nums[i].dst)))) {
			rv_reply_error(r, 400, nums[i].msg);
			return;
		}
	}
	f.offset = (int64_t)offset;
	f.limit = (int)limit;
	f.id = (int64_t)id;
	json_t *list = json_array();
	int64_t total = 0;
	int rc = list ? store_proposals_list(srv->st, &f, &total, add_row, list) : NATADV_ENOMEM;
	if (rc) {
		json_decref(list);
		reply_store_error(srv, r, rc);
		return;
	}
	reply_json(r, json_pack("{s:s, s:I, s:I, s:i, s:o}", "set", srv->set, "total", (json_int_t)total,
	                        "offset", (json_int_t)f.offset, "limit", f.limit, "proposals", list));
}

static void add_class(void *ctx, const store_class_progress *p)
{
	json_array_append_new(ctx, json_pack("{s:I, s:o, s:o, s:I, s:I, s:I}", "index", (json_int_t)p->index,
	                                     "wnid", jstr_new(p->wnid), "name", jstr_new(p->name),
	                                     "proposed", (json_int_t)p->proposed,
	                                     "accepted", (json_int_t)p->accepted,
	                                     "rejected", (json_int_t)p->rejected));
}

void rv_api_classes(review_server *srv, rv_reply *r)
{
	json_t *list = json_array();
	int rc = list ? store_review_progress(srv->st, srv->set, add_class, list) : NATADV_ENOMEM;
	if (rc) {
		json_decref(list);
		reply_store_error(srv, r, rc);
		return;
	}
	reply_json(r, json_pack("{s:s, s:s, s:i, s:o}", "set", srv->set, "reviewer", srv->reviewer,
	                        "target", srv->target, "classes", list));
}

/* Parses body as a JSON object; NULL with a 400 reply when it is not one. */
static json_t *parse_body(const char *body, size_t len, rv_reply *r)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		rv_reply_error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Reads a positive integer member; 0 when missing or not one. */
static int64_t positive_member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
}

void rv_api_decision(review_server *srv, const char *body, size_t len, rv_reply *r)
{
	json_t *o = parse_body(body, len, r);
	if (!o)
		return;
	int64_t id = positive_member(o, "proposal_id");
	const char *dtext = json_string_value(json_object_get(o, "decision"));
	store_decision decision = STORE_UNDECIDED;
	json_t *jr = json_object_get(o, "reason");
	const char *reason = json_string_value(jr);
	if (!id) {
		rv_reply_error(r, 400, "proposal_id must be a positive integer");
		goto out;
	}
	if (store_decision_parse(dtext, &decision) || (decision != STORE_ACCEPT && decision != STORE_REJECT)) {
		rv_reply_error(r, 400, "decision must be accept or reject");
		goto out;
	}
	if (jr && !json_is_null(jr) && !reason) {
		rv_reply_error(r, 400, "reason must be a string");
		goto out;
	}
	/* the store says what may be decided (of the page's set, in force, kept)
	 * and what a reason must be (required for a reject, not empty, short) */
	int64_t review_id = 0;
	store_review rv = {.decision = decision, .proposal_id = id, .set = srv->set, .reason = reason,
	                   .reviewer = srv->reviewer, .mode = "web"};
	int rc = store_review_add(srv->st, srv->run_id, &rv, &review_id);
	if (rc) {
		reply_store_error(srv, r, rc);
		goto out;
	}
	reply_json(r, json_pack("{s:I, s:I, s:s, s:o*}", "review_id", (json_int_t)review_id,
	                        "proposal_id", (json_int_t)id, "decision", store_decision_name(decision),
	                        "reason", jstr_new(reason)));
out:
	json_decref(o);
}

void rv_api_undo(review_server *srv, const char *body, size_t len, rv_reply *r)
{
	json_t *o = parse_body(body, len, r);
	if (!o)
		return;
	int64_t undoes = positive_member(o, "review_id"), review_id = 0;
	json_decref(o);
	if (!undoes) {
		rv_reply_error(r, 400, "review_id must be a positive integer");
		return;
	}
	/* the page undoes decisions of its own set only */
	store_review rv = {.decision = STORE_UNDO, .set = srv->set, .reviewer = srv->reviewer, .mode = "web",
	                   .undoes = undoes};
	int rc = store_review_add(srv->st, srv->run_id, &rv, &review_id);
	if (rc) {
		reply_store_error(srv, r, rc);
		return;
	}
	reply_json(r, json_pack("{s:I, s:I}", "review_id", (json_int_t)review_id, "undoes", (json_int_t)undoes));
}

void rv_api_image(review_server *srv, const char *hash, int thumb, rv_reply *r)
{
	char format[8], err[256];
	buf path, data;
	buf_init(&path, 8192);
	buf_init(&data, BLOB_READ_MAX);
	/* blob_path accepts exactly 32 lower-case hex digits, nothing else. */
	int rc = blob_path(store_objects_dir(srv->st), hash, &path);
	if (rc) {
		rv_reply_error(r, rc == NATADV_EINVAL ? 400 : 500, "an image is named by 32 lower-case hex digits");
		goto out;
	}
	rc = store_image_format(srv->st, hash, format);
	if (rc) {
		reply_store_error(srv, r, rc);
		goto out;
	}
	if (!thumb) {
		struct stat st;
		int fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			rv_reply_error(r, 404, "the image's file is missing from the blob store");
			goto out;
		}
		r->status = 200;
		r->fd = fd;
		r->size = (uint64_t)st.st_size;
		r->ctype = strcmp(format, "png") == 0 ? "image/png" : "image/jpeg";
		r->cache = IMMUTABLE;
		goto out;
	}
	rc = buf_read_file(&data, buf_cstr(&path), err, sizeof err);
	if (rc) {
		rv_reply_error(r, rc == NATADV_EIO ? 404 : 500, err);
		goto out;
	}
	rc = img_thumb_jpeg(srv->img, data.data, data.len, THUMB_SHORT, THUMB_LONG_MAX, THUMB_QUALITY, &r->body, err,
	                    sizeof err);
	if (rc) {
		rv_reply_error(r, 500, err);
		goto out;
	}
	r->status = 200;
	r->ctype = "image/jpeg";
	r->cache = IMMUTABLE;
out:
	buf_release(&path);
	buf_release(&data);
}
