/* src_wikimedia.c — the Wikimedia Commons adapter: the MediaWiki API's
 * search generator over the File namespace with imageinfo (url, size, mime,
 * extmetadata), query.pages{}.imageinfo[0] (url, descriptionurl,
 * LicenseShortName, Artist as HTML with the tags stripped, ObjectName), and
 * the API's continuation: the "continue" object, kept as the page token and
 * sent back member by member. Commons asks for serial requests and a
 * User-Agent that names the tool and a contact. */
#include "crawler/discover_src.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int build(const char *base, const disc_req *r, buf *out)
{
	char limit[32];
	snprintf(limit, sizeof limit, "%d", r->page_size);
	buf q;
	buf_init(&q, 64 * 1024);
	/* filetype:bitmap leaves out SVG, PDF, audio and video files */
	int rc = buf_printf(&q, "%s filetype:bitmap", r->query);
	if (!rc)
		rc = buf_printf(out, "%s/w/api.php?action=query&format=json&generator=search", base);
	if (!rc)
		rc = disc_url_param(out, "gsrsearch", buf_cstr(&q));
	if (!rc)
		rc = buf_puts(out, "&gsrnamespace=6&prop=imageinfo&iiprop=url%7Csize%7Cmime%7Cextmetadata"
		                   "&iiextmetadatafilter=LicenseShortName%7CLicense%7CArtist%7CObjectName&maxlag=5");
	if (!rc)
		rc = disc_url_param(out, "gsrlimit", limit);
	buf_release(&q);
	if (rc || !r->page)
		return rc;
	json_t *cont = json_loads(r->page, 0, NULL);
	const char *key;
	json_t *v;
	if (!json_is_object(cont)) {
		json_decref(cont);
		return NATADV_EINVAL;
	}
	json_object_foreach(cont, key, v) {
		char n[32];
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		if (json_is_integer(v)) {
			snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
			s = n;
		}
		if (!s) {
			rc = NATADV_EINVAL;
			break;
		}
		if ((rc = disc_url_param(out, key, s)) != 0)
			break;
	}
	json_decref(cont);
	return rc;
}

/* The text of an extmetadata value (HTML on Commons), or NULL. */
static int meta_text(json_t *ext, const char *name, char **out)
{
	const char *v = dj_sub_str(ext, name, "value");
	*out = NULL;
	if (!v)
		return 0;
	buf b;
	buf_init(&b, 64 * 1024);
	int rc = disc_strip_html(v, &b);
	if (rc == NATADV_ETOOBIG)
		rc = 0; /* an enormous credit line is cut, not fatal */
	if (!rc && b.len && !(*out = strdup(buf_cstr(&b))))
		rc = NATADV_ENOMEM;
	buf_release(&b);
	return rc;
}

static int parse_page(json_t *pg, const char *where, disc_page *out, char *err, size_t errlen)
{
	if (!json_is_object(pg)) {
		natadv_errf(err, errlen, "%s is not an object", where);
		return NATADV_EFORMAT;
	}
	if (json_object_get(pg, "missing") || json_object_get(pg, "invalid"))
		return 0; /* no file behind this title */
	disc_item *it = disc_page_add(out);
	if (!it)
		return NATADV_ENOMEM;
	char *title = NULL, *short_name = NULL, *license = NULL, sub[96];
	json_t *infos, *ii, *ext = NULL;
	long long w = 0, h = 0;
	int rc = dj_str(pg, "pageid", 1, 1, where, &it->source_id, err, errlen);
	if (!rc)
		rc = dj_str(pg, "title", 0, 0, where, &title, err, errlen);
	if (!rc)
		rc = dj_get(pg, "imageinfo", JSON_ARRAY, !json_object_get(pg, "filemissing"), where, &infos, err,
		            errlen);
	if (rc || !infos)
		goto out;
	snprintf(sub, sizeof sub, "%s.imageinfo[0]", where);
	ii = json_array_get(infos, 0);
	if (!json_is_object(ii)) {
		natadv_errf(err, errlen, "%s is %s", sub, ii ? "not an object" : "missing");
		rc = NATADV_EFORMAT;
		goto out;
	}
	rc = dj_str(ii, "url", 1, 0, sub, &it->url, err, errlen);
	if (!rc)
		rc = dj_str(ii, "descriptionurl", 0, 0, sub, &it->page_url, err, errlen);
	if (!rc)
		rc = dj_str(ii, "mime", 0, 0, sub, &it->mime, err, errlen);
	if (!rc)
		rc = dj_int(ii, "width", sub, &w, err, errlen);
	if (!rc)
		rc = dj_int(ii, "height", sub, &h, err, errlen);
	if (!rc)
		rc = dj_get(ii, "extmetadata", JSON_OBJECT, 0, sub, &ext, err, errlen);
	if (!rc)
		rc = meta_text(ext, "Artist", &it->author);
	if (!rc)
		rc = meta_text(ext, "ObjectName", &it->title);
	if (!rc)
		rc = meta_text(ext, "LicenseShortName", &short_name);
	if (!rc)
		rc = meta_text(ext, "License", &license);
	if (!rc) {
		/* LicenseShortName ("CC BY-SA 4.0") is what Commons shows; License
		 * ("cc-by-sa-4.0") is the machine form, used when the first is odd */
		char k[128];
		const char *norm = disc_license_norm(short_name, NULL, k, sizeof k);
		if (!norm)
			norm = disc_license_norm(license, NULL, k, sizeof k);
		rc = disc_item_license(it, short_name ? short_name : license, norm, NULL);
	}
	if (!rc && !it->title && title)
		it->title = strdup(strncmp(title, "File:", 5) == 0 ? title + 5 : title);
	disc_item_size(it, w, h);
out:
	free(title);
	free(short_name);
	free(license);
	return rc;
}

struct ranked {
	long long index;
	const char *key;
	json_t *page;
};

static int by_index(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int parse(const char *body, size_t len, const disc_req *r, disc_page *out, char *err, size_t errlen)
{
	json_t *root, *query = NULL, *pages = NULL, *cont = NULL;
	struct ranked *rank = NULL;
	(void)r;
	int rc = dj_load(body, len, &root, err, errlen);
	if (rc)
		return rc;
	json_t *error = json_object_get(root, "error");
	if (error) {
		const char *code = json_is_object(error) ? json_string_value(json_object_get(error, "code")) : NULL;
		const char *info = json_is_object(error) ? json_string_value(json_object_get(error, "info")) : NULL;
		natadv_errf(err, errlen, "wikimedia says: %.60s: %.200s", code ? code : "error", info ? info : "");
		rc = NATADV_EFORMAT;
		goto out;
	}
	rc = dj_get(root, "continue", JSON_OBJECT, 0, "", &cont, err, errlen);
	if (!rc && cont && !(out->next = json_dumps(cont, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = NATADV_ENOMEM;
	if (!rc)
		rc = dj_get(root, "query", JSON_OBJECT, 0, "", &query, err, errlen);
	if (rc || !query)
		goto out; /* no query member: nothing found */
	pages = json_object_get(query, "pages");
	if (pages && !json_is_object(pages) && !json_is_array(pages)) {
		natadv_errf(err, errlen, "query.pages is not an object");
		rc = NATADV_EFORMAT;
		goto out;
	}
	size_t n = json_is_object(pages) ? json_object_size(pages) : json_array_size(pages), i = 0;
	rank = calloc(n ? n : 1, sizeof *rank);
	if (!rank) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	if (json_is_object(pages)) {
		const char *key;
		json_t *v;
		json_object_foreach(pages, key, v) {
			rank[i].key = key;
			rank[i++].page = v;
		}
	} else {
		for (; i < n; i++)
			rank[i].page = json_array_get(pages, i);
	}
	for (i = 0; i < n; i++) {
		json_t *idx = json_is_object(rank[i].page) ? json_object_get(rank[i].page, "index") : NULL;
		rank[i].index = json_is_integer(idx) ? (long long)json_integer_value(idx) : (long long)i;
	}
	/* the search's own order, not the page ids' */
	qsort(rank, n, sizeof *rank, by_index);
	for (i = 0; !rc && i < n; i++) {
		char where[96];
		if (rank[i].key)
			snprintf(where, sizeof where, "query.pages[\"%.40s\"]", rank[i].key);
		else
			snprintf(where, sizeof where, "query.pages[%zu]", i);
		rc = parse_page(rank[i].page, where, out, err, errlen);
	}
out:
	free(rank);
	json_decref(root);
	return rc;
}

const disc_source disc_wikimedia = {
	.name = "wikimedia",
	.endpoint = "https://commons.wikimedia.org",
	.min_interval = 1.0,
	.page_size = 50,
	.max_page_size = 500,
	.numbered = 0,
	.build = build,
	.parse = parse,
};
