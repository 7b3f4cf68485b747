/* src_openverse.c — the Openverse adapter: GET /v1/images/?q=&license=&page=
 * &page_size= and its results[] (url, foreign_landing_url, creator, license,
 * license_version, title, id, width, height). Anonymous clients get at most
 * 20 results a page, 20 pages deep, about 20 requests a minute. */
#include "crawler/discover_src.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MAX_PAGE 20

static int build(const char *base, const disc_req *r, buf *out)
{
	static const char *const names[8] = {"cc0", "pdm", "by", "by-sa", "by-nc", "by-nd", "by-nc-sa", "by-nc-nd"};
	char lic[128];
	disc_license_list(r->licenses, names, lic, sizeof lic);
	int rc = buf_printf(out, "%s/v1/images/", base);
	if (!rc)
		rc = disc_url_param(out, "q", r->query);
	if (!rc && lic[0])
		rc = disc_url_param(out, "license", lic);
	return rc ? rc : disc_url_page(out, r, "page", "page_size");
}

static int parse_result(json_t *r, const char *where, void *page, char *err, size_t errlen)
{
	disc_item *it = disc_page_add(page);
	if (!it)
		return NATADV_ENOMEM;
	char *license = NULL, *version = NULL, *filetype = NULL;
	long long w = 0, h = 0;
	int rc = dj_str(r, "id", 1, 0, where, &it->source_id, err, errlen);
	if (!rc)
		rc = dj_str(r, "url", 1, 0, where, &it->url, err, errlen);
	if (!rc)
		rc = dj_str(r, "foreign_landing_url", 0, 0, where, &it->page_url, err, errlen);
	if (!rc)
		rc = dj_str(r, "creator", 0, 0, where, &it->author, err, errlen);
	if (!rc)
		rc = dj_str(r, "title", 0, 0, where, &it->title, err, errlen);
	if (!rc)
		rc = dj_str(r, "license", 0, 0, where, &license, err, errlen);
	if (!rc)
		rc = dj_str(r, "license_version", 0, 0, where, &version, err, errlen);
	if (!rc)
		rc = dj_str(r, "filetype", 0, 0, where, &filetype, err, errlen);
	if (!rc)
		rc = dj_int(r, "width", where, &w, err, errlen);
	if (!rc)
		rc = dj_int(r, "height", where, &h, err, errlen);
	if (!rc && license) {
		/* the raw form keeps both fields: "by 2.0" */
		char raw[160];
		snprintf(raw, sizeof raw, "%.60s%s%.60s", license, version ? " " : "", version ? version : "");
		rc = disc_item_license(it, raw, NULL, NULL);
	}
	if (!rc && filetype) {
		int jpeg = strcmp(filetype, "jpg") == 0 || strcmp(filetype, "jpeg") == 0;
		char mime[80];
		snprintf(mime, sizeof mime, "image/%.60s", jpeg ? "jpeg" : filetype);
		it->mime = strdup(mime);
		if (!it->mime)
			rc = NATADV_ENOMEM;
	}
	disc_item_size(it, w, h);
	free(license);
	free(version);
	free(filetype);
	return rc;
}

/* page_count, at most MAX_PAGE: Openverse serves no page beyond */
static int last_page(json_t *root, const disc_req *r, long long *last, char *err, size_t errlen)
{
	long long page_count = 0;
	(void)r;
	int rc = dj_int(root, "page_count", "", &page_count, err, errlen);
	*last = page_count < MAX_PAGE ? page_count : MAX_PAGE;
	return rc;
}

static const dj_results_spec answer = {
	.source = "openverse",
	.refusal_key = "detail", /* {"detail": "..."} */
	.max_results = 0,
	.last_page = last_page,
	.item = parse_result,
};

static int parse(const char *body, size_t len, const disc_req *r, disc_page *out, char *err, size_t errlen)
{
	return dj_results_page(body, len, r, out, &answer, err, errlen);
}

const disc_source disc_openverse = {
	.name = "openverse",
	.endpoint = "https://api.openverse.org",
	.min_interval = 3.0,
	.page_size = 20,
	.max_page_size = 20,
	.numbered = 1,
	.build = build,
	.parse = parse,
};
