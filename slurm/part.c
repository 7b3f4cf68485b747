/* part.c — what a part workspace says of itself and what its parent says
 * of it: abandoned (store_part_fate), finished by the rule merge applies
 * (store/parts.h, rule 4: no pending url; no image without a score of the
 * part's model), and whether a given array task started natadv in it. */
#include "slurm/slurm.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "scaleout/scaleout.h"
#include "store/parts.h"
#include "store/store.h"

/* Fills f->done and f->ran from the part's own database. */
static int part_own(store *s, const scaleout_part_info *pi, const char *array_job, int task, slurm_facts *f)
{
	int64_t left = 0, runs = 0;
	int rc;
	if (!strcmp(pi->stage, "crawl")) {
		rc = store_count_urls(s, "pending", &left);
	} else {
		store_model m;
		buf text;
		buf_init(&text, 64 * 1024);
		rc = store_model_get(s, pi->model, &m, &text);
		if (!rc)
			rc = store_count_unscored(s, m.id, &left);
		buf_release(&text);
	}
	if (!rc && array_job[0])
		rc = store_runs_of_task(s, pi->stage, array_job, task, &runs);
	f->done = !rc && left == 0;
	f->ran = runs > 0;
	return rc;
}

/* Sets f->abandoned: part `part` of split split_id gone from parent. */
static int abandoned(store *parent, int64_t split_id, int part, slurm_facts *f, char *err, size_t errlen)
{
	store_part_fate_t fate;
	if (store_part_fate(parent, split_id, part, &fate) != 0) {
		natadv_errf(err, errlen, "cannot read the parts of the workspace: %s", store_errmsg(parent));
		return NATADV_EDB;
	}
	f->abandoned = fate == STORE_PART_GONE;
	return 0;
}

int slurm_part_facts(void *ctx, const char *dir, const char *stage, int64_t split_id, const char *array_job, int task,
                     slurm_facts *f, char *err, size_t errlen)
{
	store *parent = ctx;
	f->done = f->abandoned = f->ran = 0;
	scaleout_part_info pi;
	int rc = scaleout_part_check(parent, dir, "read", &pi, err, errlen);
	if (rc == NATADV_ENOTFOUND) /* not written (yet), or deleted once abandoned */
		return split_id > 0 ? abandoned(parent, split_id, task, f, err, errlen) : 0;
	if (rc)
		return rc;
	if (strcmp(pi.stage, stage) != 0) {
		natadv_errf(err, errlen, "part '%s' is a %s part, not a %s one", dir, pi.stage, stage);
		return NATADV_EINVAL;
	}
	rc = abandoned(parent, pi.split_id, pi.part, f, err, errlen);
	if (rc || f->abandoned)
		return rc; /* its own state no longer matters */
	store *s;
	rc = store_open(dir, &s, err, errlen);
	if (rc)
		return rc;
	rc = part_own(s, &pi, array_job, task, f);
	if (rc)
		natadv_errf(err, errlen, "cannot read part '%s': %s", dir, store_errmsg(s));
	store_close(s);
	return rc;
}
