/* src_flickr.c — the Flickr adapter: flickr.photos.search with the API key
 * from FLICKR_API_KEY (never part of the URL that is recorded), the licence
 * filter as Flickr's licence ids, and photos.photo[] (id, owner, ownername,
 * title, license, url_l or url_o). Flickr allows 3,600 requests an hour and
 * serves no more than 4,000 results of one search. */
#include "crawler/discover_src.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MAX_RESULTS 4000

/* flickr.photos.licenses.getInfo: ids 0 to 10. */
static const char *const licenses[] = {
	"all-rights-reserved", "cc-by-nc-sa-2.0", "cc-by-nc-2.0", "cc-by-nc-nd-2.0", "cc-by-2.0", "cc-by-sa-2.0",
	"cc-by-nd-2.0", "flickr-no-known-copyright-restrictions", "us-government-work", "cc0-1.0", "pdm",
};

static int build(const char *base, const disc_req *r, buf *out)
{
	/* the DISC_LIC_* bits in order: cc0, pdm, by, by-sa, by-nc, by-nd, by-nc-sa, by-nc-nd */
	static const char *const ids[8] = {"9", "10", "4", "5", "2", "6", "1", "3"};
	char lic[64];
	disc_license_list(r->licenses, ids, lic, sizeof lic);
	int rc = buf_printf(out, "%s/services/rest/?method=flickr.photos.search", base);
	if (!rc && r->api_key)
		rc = disc_url_param(out, "api_key", r->api_key);
	if (!rc)
		rc = disc_url_param(out, "text", r->query);
	if (!rc && lic[0])
		rc = disc_url_param(out, "license", lic);
	if (!rc)
		rc = buf_puts(out, "&content_type=1&media=photos&sort=relevance"
		                   "&extras=license%2Cowner_name%2Curl_l%2Curl_o");
	if (!rc)
		rc = disc_url_page(out, r, "page", "per_page");
	if (!rc)
		rc = buf_puts(out, "&format=json&nojsoncallback=1");
	return rc;
}

static int parse_photo(json_t *p, const char *where, void *out, char *err, size_t errlen)
{
	disc_item *it = disc_page_add(out);
	if (!it)
		return NATADV_ENOMEM;
	char *owner = NULL, *license = NULL, *url_l = NULL, *url_o = NULL;
	long long w = 0, h = 0;
	int rc = dj_str(p, "id", 1, 1, where, &it->source_id, err, errlen);
	if (!rc)
		rc = dj_str(p, "owner", 1, 0, where, &owner, err, errlen);
	if (!rc)
		rc = dj_str(p, "ownername", 0, 0, where, &it->author, err, errlen);
	if (!rc)
		rc = dj_str(p, "title", 0, 0, where, &it->title, err, errlen);
	if (!rc)
		rc = dj_str(p, "license", 0, 1, where, &license, err, errlen);
	if (!rc)
		rc = dj_str(p, "url_l", 0, 0, where, &url_l, err, errlen);
	if (!rc)
		rc = dj_str(p, "url_o", 0, 0, where, &url_o, err, errlen);
	if (!rc)
		rc = dj_int(p, url_l ? "width_l" : "width_o", where, &w, err, errlen);
	if (!rc)
		rc = dj_int(p, url_l ? "height_l" : "height_o", where, &h, err, errlen);
	if (rc)
		goto out;
	/* the large size when Flickr made one, else the original (when its owner allows) */
	it->url = url_l ? url_l : url_o;
	if (url_l)
		url_l = NULL;
	else
		url_o = NULL;
	char page[256];
	snprintf(page, sizeof page, "https://www.flickr.com/photos/%.100s/%.60s", owner, it->source_id);
	if (it->author && !it->author[0]) { /* an empty owner name: the account id names the author */
		free(it->author);
		it->author = NULL;
	}
	if (!(it->page_url = strdup(page)) || (!it->author && !(it->author = strdup(owner)))) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	const char *norm = NULL;
	if (license) {
		char *end;
		long id = strtol(license, &end, 10);
		if (end != license && !*end && id >= 0 && id < (long)(sizeof licenses / sizeof licenses[0]))
			norm = licenses[id];
	}
	/* an id this table does not know stays without a licence: recorded, never queued */
	rc = disc_item_license(it, license, norm, NULL);
	disc_item_size(it, w, h);
out:
	free(owner);
	free(license);
	free(url_l);
	free(url_o);
	return rc;
}

static int parse(const char *body, size_t len, const disc_req *r, disc_page *out, char *err, size_t errlen)
{
	json_t *root, *photos, *list;
	char *stat = NULL;
	int rc = dj_load(body, len, &root, err, errlen);
	if (rc)
		return rc;
	long long pages = 0;
	rc = dj_str(root, "stat", 1, 0, "", &stat, err, errlen);
	if (!rc && strcmp(stat, "ok") != 0) {
		const char *msg = json_string_value(json_object_get(root, "message"));
		long long code = 0;
		dj_int(root, "code", "", &code, err, errlen);
		natadv_errf(err, errlen, "flickr says: %.200s (code %lld)", msg ? msg : stat, code);
		rc = NATADV_EFORMAT;
	}
	if (!rc)
		rc = dj_get(root, "photos", JSON_OBJECT, 1, "", &photos, err, errlen);
	if (!rc)
		rc = dj_int(photos, "pages", "photos", &pages, err, errlen);
	if (!rc)
		rc = dj_get(photos, "photo", JSON_ARRAY, 1, "photos", &list, err, errlen);
	if (!rc)
		rc = disc_next_numbered(out, r, pages, MAX_RESULTS);
	if (!rc)
		rc = dj_each(list, "photos.photo", parse_photo, out, err, errlen);
	free(stat);
	json_decref(root);
	return rc;
}

const disc_source disc_flickr = {
	.name = "flickr",
	.endpoint = "https://api.flickr.com",
	.min_interval = 1.0,
	.page_size = 100,
	.max_page_size = 500,
	.numbered = 1,
	.key_env = "FLICKR_API_KEY",
	.build = build,
	.parse = parse,
};
