/* load.c — streaming a seed list into the frontier: each row is checked
 * (URL, scheme, class) and added in batched transactions; bad rows are
 * reported by line and skipped, never stopping the rest. */
#include "crawler/crawler.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "crawler/seeds.h"
#include "crawler/url.h"

#define BATCH_ROWS 5000

int crawl_load_seeds(store *s, int64_t run_id, const char *path,
                     void (*on_bad)(void *ctx, const char *msg), void *ctx,
                     crawl_seed_summary *sum, char *err, size_t errlen)
{
	memset(sum, 0, sizeof *sum);
	seed_reader *r = NULL;
	int rc = seed_open(path, &r, err, errlen);
	if (rc)
		return rc;
	buf norm, host;
	buf_init(&norm, 8192);
	buf_init(&host, 8192);
	int in_tx = 0, batch = 0;
	char msg[1024], why[512];
	for (;;) {
		seed_row row;
		int got = seed_next(r, &row, why, sizeof why);
		if (got == 0)
			break;
		if (got == NATADV_EFORMAT) {
			sum->rows++;
			sum->bad++;
			if (on_bad)
				on_bad(ctx, why);
			continue;
		}
		if (got != 1) {
			rc = got;
			snprintf(err, errlen, "cannot read '%s': %s", path, why);
			goto out;
		}
		sum->rows++;
		buf_reset(&norm);
		buf_reset(&host);
		if (url_check(row.url, &norm, &host, why, sizeof why) != 0) {
			sum->bad++;
			snprintf(msg, sizeof msg, "line %ld: %s", row.line, why);
			if (on_bad)
				on_bad(ctx, msg);
			continue;
		}
		int known = store_class_known(s, row.wnid);
		if (known < 0) {
			rc = -known;
			snprintf(err, errlen, "%s", store_errmsg(s));
			goto out;
		}
		if (!known) {
			sum->bad++;
			snprintf(msg, sizeof msg, "line %ld: unknown wnid '%.100s'", row.line, row.wnid);
			if (on_bad)
				on_bad(ctx, msg);
			continue;
		}
		if (!in_tx) {
			if ((rc = store_begin(s)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			in_tx = 1;
		}
		char ref[600];
		const char *base = strrchr(path, '/');
		snprintf(ref, sizeof ref, "%.500s:%ld", base ? base + 1 : path, row.line);
		store_candidate cand = {
			.url = buf_cstr(&norm),
			.host = buf_cstr(&host),
			.wnid = row.wnid,
			.source = row.source ? row.source : "seeds",
			.query = row.query,
			.page_url = row.page_url,
			.license = row.license,
			.author = row.author,
			.seed_ref = ref,
		};
		int new_url = 0, new_tag = 0;
		if ((rc = store_candidate_add(s, run_id, &cand, &new_url, &new_tag)) != 0) {
			snprintf(err, errlen, "%s", store_errmsg(s));
			goto out;
		}
		sum->new_urls += new_url;
		sum->new_tags += new_tag;
		if (++batch >= BATCH_ROWS) {
			in_tx = 0;
			batch = 0;
			if ((rc = store_commit(s)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
		}
	}
	if (in_tx) {
		in_tx = 0;
		if ((rc = store_commit(s)) != 0)
			snprintf(err, errlen, "%s", store_errmsg(s));
	}
out:
	if (in_tx)
		store_rollback(s);
	buf_release(&norm);
	buf_release(&host);
	seed_close(r);
	return rc;
}
