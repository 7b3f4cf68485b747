/* part.c — whether a part workspace has finished its stage, by the rule
 * merge applies (store/parts.h, rule 4): no pending url; no image without
 * a score of the part's model. */
#include "slurm/slurm.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "scaleout/scaleout.h"
#include "store/store.h"

int slurm_part_done(void *ctx, const char *dir, const char *stage, int *done, char *err, size_t errlen)
{
	(void)ctx;
	*done = 0;
	scaleout_part_info pi;
	int rc = scaleout_part_read(dir, &pi, err, errlen);
	if (rc == NATADV_ENOTFOUND)
		return 0; /* not written (yet): not done */
	if (rc)
		return rc;
	if (strcmp(pi.stage, stage) != 0) {
		natadv_errf(err, errlen, "part '%s' is a %s part, not a %s one", dir, pi.stage, stage);
		return NATADV_EINVAL;
	}
	store *s;
	rc = store_open(dir, &s, err, errlen);
	if (rc)
		return rc;
	int64_t left = 0;
	if (!strcmp(stage, "crawl")) {
		rc = store_count_urls(s, "pending", &left);
	} else {
		store_model m;
		buf text;
		buf_init(&text, 64 * 1024);
		rc = store_model_get(s, pi.model, &m, &text);
		if (!rc)
			rc = store_count_unscored(s, m.id, &left);
		buf_release(&text);
	}
	if (rc)
		natadv_errf(err, errlen, "cannot read part '%s': %s", dir, store_errmsg(s));
	store_close(s);
	*done = !rc && left == 0;
	return rc;
}
