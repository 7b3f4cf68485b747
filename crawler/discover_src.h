/* discover_src.h — what the source adapters (src_*.c) share: typed access to
 * JSON members with messages that say where a body went wrong, and the page
 * helpers. Not for use outside crawler/. */
#ifndef NATADV_DISCOVER_SRC_H
#define NATADV_DISCOVER_SRC_H

#include <jansson.h>

#include "crawler/discover.h"

/* Parses body as a JSON object into *root (caller json_decref's it). An HTML
 * page, an empty body, malformed or truncated JSON or a non-object give
 * NATADV_EFORMAT with err saying which. */
int dj_load(const char *body, size_t len, json_t **root, char *err, size_t errlen);

/* Looks up obj[key] expecting type (JSON_OBJECT, JSON_ARRAY). *out is NULL when
 * the member is missing or null: an error (NATADV_EFORMAT) if required. A
 * member of another type is always an error. where names obj in messages. */
int dj_get(json_t *obj, const char *key, json_type type, int required, const char *where,
           json_t **out, char *err, size_t errlen);

/* Copies the string obj[key] into *out (malloc'd; NULL when missing or null,
 * an error if required). With num_ok an integer is accepted and written in
 * decimal. Other types are an error. */
int dj_str(json_t *obj, const char *key, int required, int num_ok, const char *where, char **out,
           char *err, size_t errlen);

/* Reads the integer obj[key] (a number or a string of digits) into *out;
 * missing or null leaves *out unchanged. Other values are an error. */
int dj_int(json_t *obj, const char *key, const char *where, long long *out, char *err, size_t errlen);

/* Returns the string of obj[key][sub] (as in Wikimedia's extmetadata) or
 * NULL; anything else than a string there counts as absent. */
const char *dj_sub_str(json_t *obj, const char *key, const char *sub);

/* Calls fn for each element of the array arr, which must be an object,
 * with where = "prefix[i]"; stops at the first non-zero return. */
int dj_each(json_t *arr, const char *prefix, int (*fn)(json_t *obj, const char *where, void *ctx, char *err, size_t errlen),
            void *ctx, char *err, size_t errlen);

/* When obj has the member key (an API's error answer), writes "<source>
 * says: <the member as JSON>" to err and returns NATADV_EFORMAT; else 0. */
int dj_refusal(json_t *obj, const char *key, const char *source, char *err, size_t errlen);

/* A numbered source whose answer lists its items in the array "results". */
typedef struct dj_results_spec {
	const char *source;      /* names the source in a refusal */
	const char *refusal_key; /* the member of its error answers */
	long long max_results;   /* how deep one search goes (0: no limit) */
	/* Reads the number of the last page from the answer. */
	int (*last_page)(json_t *root, const disc_req *r, long long *last, char *err, size_t errlen);
	/* Adds what one element of results[] holds to the disc_page page. */
	int (*item)(json_t *obj, const char *where, void *page, char *err, size_t errlen);
} dj_results_spec;

/* Parses such an answer into out: refused when it has the member
 * refusal_key (dj_refusal), results must be an array, out->next is the
 * next page up to the last and max_results (disc_next_numbered), then item
 * runs for each element. */
int dj_results_page(const char *body, size_t len, const disc_req *r, disc_page *out,
                    const dj_results_spec *spec, char *err, size_t errlen);

/* Sets it->width and it->height from what the source says, 0 for a value
 * out of 1 .. 999,999,999. */
void disc_item_size(disc_item *it, long long w, long long h);

/* Writes the names of the licence families in mask (names[i] for the
 * DISC_LIC_* bit 1 << i; NULL leaves a family out), comma-separated, to out. */
void disc_license_list(unsigned mask, const char *const names[8], char *out, size_t cap);

/* Appends the page number of r and its page size as the parameters
 * page_key and size_key. */
int disc_url_page(buf *out, const disc_req *r, const char *page_key, const char *size_key);

/* Appends a zeroed item to p; NULL when out of memory. */
disc_item *disc_page_add(disc_page *p);

/* Sets it->license_raw to a copy of raw (may be NULL) and it->license to its
 * normalised form (or norm when given). 0 or NATADV_ENOMEM. */
int disc_item_license(disc_item *it, const char *raw, const char *norm, const char *default_version);

/* Sets p->next for a numbered source: the page after r->page (1 when NULL)
 * while it is at most last_page and (page * page_size) at most max_results. */
int disc_next_numbered(disc_page *p, const disc_req *r, long long last_page, long long max_results);

/* Returns the number r->page asks for (1 for NULL or an unreadable token). */
long long disc_page_number(const disc_req *r);

/* strdup that returns NULL for NULL. */
char *disc_strdup(const char *s);

#endif
