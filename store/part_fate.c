/* part_fate.c — what a parent workspace knows of one of its parts (out,
 * merged, or no longer recorded: abandoned), and whether a part workspace
 * holds a run of a given Slurm array task: the two facts `slurm status`
 * reads from the store. */
#include "store_internal.h"
#include "store/parts.h"

#include <stdio.h>

#include "common/err.h"

int store_part_fate(store *s, int64_t split_id, int part, store_part_fate_t *fate)
{
	sqlite3_stmt *st = store_sql(s, "SELECT merged_at IS NOT NULL FROM split_parts WHERE split_id = ? AND part = ?");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, split_id);
	sqlite3_bind_int(st, 2, part);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*fate = sqlite3_column_int(st, 0) ? STORE_PART_MERGED : STORE_PART_OUT;
	else
		*fate = STORE_PART_GONE;
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : store_dberr(s, "cannot read the parts");
}

int store_runs_of_task(store *s, const char *command, const char *array_job, int task, int64_t *n)
{
	sqlite3_stmt *st = store_sql(s, "SELECT count(*) FROM runs WHERE command = ? AND slurm_array_job_id = ? "
	                                "AND slurm_array_task_id = ?");
	if (!st)
		return NATADV_EDB;
	char t[16];
	snprintf(t, sizeof t, "%d", task);
	store_bind_text(st, 1, command);
	store_bind_text(st, 2, array_job);
	store_bind_text(st, 3, t);
	int step = sqlite3_step(st);
	*n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 0 : store_dberr(s, "cannot count runs");
}
