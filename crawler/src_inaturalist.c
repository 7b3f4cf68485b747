/* src_inaturalist.c — the iNaturalist adapter: GET /v1/observations with
 * taxon_name= (a Latin binomial) or q=, research-grade observations with
 * photos, and their results[].photos[] (url with the size word "square"
 * turned into "large", license_code, attribution), the observation's uri and
 * user. The author is the user's name (their login when they gave none);
 * the photo's attribution, the credit its licence asks for, is kept
 * verbatim. iNaturalist asks for at most 60 requests a minute and serves
 * no more than 10,000 results of one search. */
#include "crawler/discover_src.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MAX_RESULTS 10000

static int build(const char *base, const disc_req *r, buf *out)
{
	/* iNaturalist has no public-domain mark for photos */
	static const char *const codes[8] = {"cc0", NULL, "cc-by", "cc-by-sa", "cc-by-nc", "cc-by-nd",
	                                     "cc-by-nc-sa", "cc-by-nc-nd"};
	char lic[128];
	disc_license_list(r->licenses, codes, lic, sizeof lic);
	int rc = buf_printf(out, "%s/v1/observations", base);
	if (!rc)
		rc = disc_url_param(out, r->scientific ? "taxon_name" : "q", r->query);
	if (!rc)
		rc = disc_url_param(out, "photos", "true");
	if (!rc)
		rc = disc_url_param(out, "quality_grade", "research");
	if (!rc && lic[0])
		rc = disc_url_param(out, "photo_license", lic);
	return rc ? rc : disc_url_page(out, r, "page", "per_page");
}

/* ".../photos/123/square.jpg" -> ".../photos/123/large.jpg": the search
 * answers with thumbnails; the size word is the last path segment's name. */
static char *large_url(const char *url)
{
	const char *q = strpbrk(url, "?#");
	size_t end = q ? (size_t)(q - url) : strlen(url);
	const char *seg = url;
	for (const char *p = url; p < url + end; p++)
		if (*p == '/')
			seg = p + 1;
	if (strncmp(seg, "square.", 7) != 0 && !(strncmp(seg, "square", 6) == 0 && seg + 6 == url + end))
		return strdup(url);
	size_t pre = (size_t)(seg - url), n = strlen(url);
	char *out = malloc(n + 2);
	if (out) {
		memcpy(out, url, pre);
		memcpy(out + pre, "large", 5);
		memcpy(out + pre + 5, seg + 6, n - pre - 6 + 1);
	}
	return out;
}

/* An observation: what its photos share. */
struct obs {
	char *uri, *author, *title;
	disc_page *out;
};

static int parse_photo(json_t *p, const char *where, void *ctx, char *err, size_t errlen)
{
	const struct obs *o = ctx;
	disc_item *it = disc_page_add(o->out);
	if (!it)
		return NATADV_ENOMEM;
	char *url = NULL, *code = NULL;
	int rc = dj_str(p, "id", 1, 1, where, &it->source_id, err, errlen);
	if (!rc)
		rc = dj_str(p, "url", 0, 0, where, &url, err, errlen);
	if (!rc)
		rc = dj_str(p, "license_code", 0, 0, where, &code, err, errlen);
	if (!rc)
		rc = dj_str(p, "attribution", 0, 0, where, &it->attribution, err, errlen);
	if (!rc && url && !(it->url = large_url(url)))
		rc = NATADV_ENOMEM;
	/* a null license_code is iNaturalist's "all rights reserved"; its licences are 4.0 */
	if (!rc)
		rc = disc_item_license(it, code, code ? NULL : "all-rights-reserved", "4.0");
	if (!rc && ((o->uri && !(it->page_url = strdup(o->uri))) || (o->author && !(it->author = strdup(o->author))) ||
	            (o->title && !(it->title = strdup(o->title)))))
		rc = NATADV_ENOMEM;
	free(url);
	free(code);
	return rc;
}

static int parse_obs(json_t *r, const char *where, void *page, char *err, size_t errlen)
{
	struct obs o = {NULL, NULL, NULL, page};
	char *id = NULL, *guess = NULL, *taxon_name = NULL, sub[64];
	json_t *user, *taxon, *photos;
	int rc = dj_str(r, "id", 1, 1, where, &id, err, errlen);
	if (!rc)
		rc = dj_str(r, "uri", 0, 0, where, &o.uri, err, errlen);
	if (!rc)
		rc = dj_str(r, "species_guess", 0, 0, where, &guess, err, errlen);
	if (!rc)
		rc = dj_get(r, "user", JSON_OBJECT, 0, where, &user, err, errlen);
	if (!rc && user) {
		snprintf(sub, sizeof sub, "%s.user", where);
		rc = dj_str(user, "name", 0, 0, sub, &o.author, err, errlen);
		if (!rc && o.author && !o.author[0]) {  /* an empty name: the login names the user */
			free(o.author);
			o.author = NULL;
		}
		if (!rc && !o.author)
			rc = dj_str(user, "login", 0, 0, sub, &o.author, err, errlen);
	}
	if (!rc)
		rc = dj_get(r, "taxon", JSON_OBJECT, 0, where, &taxon, err, errlen);
	if (!rc && taxon) {
		snprintf(sub, sizeof sub, "%s.taxon", where);
		rc = dj_str(taxon, "name", 0, 0, sub, &taxon_name, err, errlen);
	}
	if (!rc)
		rc = dj_get(r, "photos", JSON_ARRAY, 1, where, &photos, err, errlen);
	if (!rc && !o.uri) {
		char u[96];
		snprintf(u, sizeof u, "https://www.inaturalist.org/observations/%.40s", id);
		if (!(o.uri = strdup(u)))
			rc = NATADV_ENOMEM;
	}
	o.title = taxon_name ? taxon_name : guess;
	snprintf(sub, sizeof sub, "%s.photos", where);
	if (!rc)
		rc = dj_each(photos, sub, parse_photo, &o, err, errlen);
	free(id);
	free(guess);
	free(taxon_name);
	free(o.uri);
	free(o.author);
	return rc;
}

/* total_results over per_page (this request's page size when absent) */
static int last_page(json_t *root, const disc_req *r, long long *last, char *err, size_t errlen)
{
	long long total = 0, per_page = r->page_size;
	int rc = dj_int(root, "total_results", "", &total, err, errlen);
	if (!rc)
		rc = dj_int(root, "per_page", "", &per_page, err, errlen);
	*last = per_page > 0 ? (total + per_page - 1) / per_page : 0;
	return rc;
}

static const dj_results_spec answer = {
	.source = "inaturalist",
	.refusal_key = "error",
	.max_results = MAX_RESULTS,
	.last_page = last_page,
	.item = parse_obs,
};

static int parse(const char *body, size_t len, const disc_req *r, disc_page *out, char *err, size_t errlen)
{
	return dj_results_page(body, len, r, out, &answer, err, errlen);
}

const disc_source disc_inaturalist = {
	.name = "inaturalist",
	.endpoint = "https://api.inaturalist.org",
	.min_interval = 1.0,
	.page_size = 50,
	.max_page_size = 200,
	.numbered = 1,
	.scientific_first = 1,
	.build = build,
	.parse = parse,
};
