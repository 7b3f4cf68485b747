/* slurm.h — one stage of natadv (crawl or score) run over the parts of a
 * workspace as a Slurm job array, and the parts merged back by one more job:
 * the two batch scripts, submitting them with sbatch, the record of a
 * submission in the workspace, and each part's state from squeue and the
 * part itself. Orchestration over the scale-out building blocks (split makes
 * the parts, merge folds them back; both run as ordinary natadv commands);
 * nothing of HTTP or models, and no accounting database needed.
 *
 * A submission lives in WS/slurm/ID/:
 *   array.sbatch     the job array: task i runs `natadv -w PARTS/part-000i STAGE ARGS`
 *   merge.sbatch     `natadv -w WS merge PARTS`, submitted with --dependency=afterany
 *   submission.json  what was submitted (slurm_sub), rewritten by each resubmit
 *   logs/            part-000i.log (the task's output, appended by reruns),
 *                    part-000i.exit (its last end: "exit N", "cancelled" or
 *                    "timeout", then " job ARRAY_TASK"),
 *                    merge.log
 * Every program runs through posix_spawnp with an argument vector (no shell);
 * every value written into a script is quoted for the shell or for sbatch's
 * own #SBATCH reader. */
#ifndef NATADV_SLURM_H
#define NATADV_SLURM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The sbatch options of a submission; NULL / 0: Slurm's default. */
typedef struct slurm_opts {
	const char *partition, *account, *time, *mem;
	int cpus_per_task;            /* also each part's thread count (crawl --workers, score --threads) */
	int max_running;              /* K of --array=...%K: tasks at once */
	const char *const *extra;     /* --sbatch-arg values: one #SBATCH line each, e.g. "--constraint=avx512" */
	int nextra;
} slurm_opts;

/* A submission as submission.json records it. Strings are owned by the
 * struct (slurm_sub_free). */
typedef struct slurm_array {
	char job[32];                 /* the array's job id, e.g. "12" */
	char *tasks;                  /* its --array index list, e.g. "0-3" or "1,3" */
} slurm_array;

typedef struct slurm_sub {
	char *id;                     /* "crawl-7": STAGE-RUN ID, the folder name under WS/slurm */
	char *stage;                  /* "crawl" or "score" */
	char *workspace;              /* the parent workspace, absolute */
	char *parts;                  /* the folder holding part-0000 ..., absolute */
	char *dir;                    /* WS/slurm/ID, absolute */
	char *natadv;                 /* the natadv binary the jobs run, absolute */
	int nparts;
	int64_t split_id;             /* the split that made the parts (splits.id of the workspace); 0: unknown */
	char **stage_args;            /* after `natadv -w PART STAGE` */
	int nstage_args;
	char *partition, *account, *time, *mem;   /* the options (NULL: not given) */
	int cpus_per_task, max_running;
	char **extra;
	int nextra;
	slurm_array *arrays;          /* every array submitted, first one first */
	int narrays;
	char (*merges)[32];           /* every merge job submitted, in order */
	int nmerges;
	char *submitted_at;           /* ISO time of the first submission */
} slurm_sub;

/* Makes a new submission record (nothing written): copies every argument;
 * o's values become the record's options. Returns 0 and *out (free with
 * slurm_sub_free), NATADV_EINVAL when an option value holds a control
 * character or nparts is out of 1..100000 (err says which), or
 * NATADV_ENOMEM. */
int slurm_sub_new(const char *id, const char *stage, const char *workspace, const char *parts, const char *dir,
                  const char *natadv, int nparts, const char *const *stage_args, int nstage_args,
                  const slurm_opts *o, slurm_sub **out, char *err, size_t errlen);
/* Frees s; accepts NULL. */
void slurm_sub_free(slurm_sub *s);

/* Writes s->dir/array.sbatch and s->dir/merge.sbatch (each to a temporary
 * file, then renamed; mode 0755) and makes s->dir/logs. The array script's
 * #SBATCH --array is 0-(nparts-1), with %K when max_running is set.
 * Returns 0, or NATADV_EIO / NATADV_ENOMEM with err saying why. */
int slurm_write_scripts(const slurm_sub *s, char *err, size_t errlen);
/* Writes s->dir/merge.sbatch again: merging every part but those with
 * skip[i] set (skip NULL or none set: the whole parts folder), e.g. the
 * abandoned ones, which merge refuses. 0, or NATADV_EIO / NATADV_ENOMEM
 * with err. */
int slurm_write_merge_script(const slurm_sub *s, const unsigned char *skip, char *err, size_t errlen);
/* Appends the text of s->dir/NAME ("array.sbatch", "merge.sbatch") to out.
 * 0, or NATADV_EIO / NATADV_ETOOBIG with err. */
int slurm_read_script(const slurm_sub *s, const char *name, buf *out, char *err, size_t errlen);

/* Writes s to s->dir/submission.json (temporary file, then renamed).
 * 0, or NATADV_EIO / NATADV_ENOMEM with err. */
int slurm_sub_save(const slurm_sub *s, char *err, size_t errlen);
/* Reads DIR/submission.json. 0 and *out (slurm_sub_free), NATADV_ENOTFOUND
 * when there is none, NATADV_EIO / NATADV_EFORMAT with err. */
int slurm_sub_load(const char *dir, slurm_sub **out, char *err, size_t errlen);
/* Finds the latest submission under WS/slurm (the most recent
 * submitted_at, then the greatest id) and loads it. 0 and *out,
 * NATADV_ENOTFOUND (err: "no slurm submission in 'WS'") or a load error. */
int slurm_sub_latest(const char *workspace, slurm_sub **out, char *err, size_t errlen);

/* Runs `sbatch --parsable [--array=TASKS] ARRAY_SCRIPT` (tasks NULL: the
 * script's own --array) and then `sbatch --parsable
 * --dependency=afterany:ID[:ID...] MERGE_SCRIPT`, waiting on the new array
 * and on the arrays of s listed in also_after (may be NULL); records both
 * jobs in s (not saved). Returns 0, NATADV_EIO when sbatch cannot run or
 * fails (err has its message; when the merge fails the array stays
 * recorded), or NATADV_ENOMEM. */
int slurm_submit(slurm_sub *s, const char *tasks, const char *const *also_after, int nalso, char *err,
                 size_t errlen);

/* The state of one part. */
typedef enum slurm_state {
	SLURM_PENDING = 0,
	SLURM_RUNNING,
	SLURM_DONE,
	SLURM_FAILED,
	SLURM_CANCELLED,
	SLURM_TIMEOUT,                /* its task hit its time limit (--time) */
	SLURM_ABANDONED,              /* given up with `split abandon`: never run again, never merged */
	SLURM_NSTATES
} slurm_state;
/* Returns "pending", "running", "done", "failed", "cancelled", "timeout"
 * or "abandoned". */
const char *slurm_state_name(slurm_state st);

/* How a task ended, by its logs/part-NNNN.exit: "exit N", "cancelled" or
 * "timeout" (the array script's TERM trap: "timeout" when squeue gives the
 * task's reason as TimeLimit), then " job ARRAY_TASK" naming the task. */
typedef enum slurm_exit {
	SLURM_EXIT_NONE = 0,          /* no exit file, or one an earlier task wrote */
	SLURM_EXIT_OK,                /* exit 0 */
	SLURM_EXIT_FAILED,            /* exit N, N != 0 */
	SLURM_EXIT_CANCELLED,
	SLURM_EXIT_TIMEOUT,
} slurm_exit;
/* Reads the first line of an exit file as written by task job ("12_3"):
 * SLURM_EXIT_NONE when line is NULL or names another task. */
slurm_exit slurm_exit_parse(const char *line, const char *job);

/* Everything a part's state is decided from. */
typedef struct slurm_facts {
	const char *squeue;           /* squeue's state for the part's latest task; NULL: squeue lists none */
	int submitted;                /* some array of the submission holds the part */
	slurm_exit exit;              /* the latest task's exit file */
	int done;                     /* the part's stage has finished (the rule merge applies) */
	int abandoned;                /* the parent no longer records the part (store_part_fate) */
	int ran;                      /* the latest task recorded a run in the part: it started */
	int unreadable;               /* the part could not be read (the others are then unknown) */
} slurm_facts;

/* The policy: decides a part's state from f, in this order: abandoned;
 * pending or running while squeue says so; failed when the part cannot be
 * read (no task can run it either); done; pending when never
 * submitted; by squeue's final state (CANCELLED: cancelled, TIMEOUT:
 * timeout, any other: failed); by the exit file (cancelled, timeout, else
 * failed); cancelled when the task never started (cancelled while
 * pending: no exit file, no run); failed (its job is gone). Writes a few
 * words on why into why. */
slurm_state slurm_decide(const slurm_facts *f, char *why, size_t whylen);

/* Fills f->done, f->abandoned and f->ran for part `task` of split split_id
 * (0: unknown), the part workspace at dir, of the stage; array_job (""
 * when the part was never submitted) names its latest task. Returns 0, or
 * a NATADV code with err (the part cannot be read). */
typedef int (*slurm_part_fn)(void *ctx, const char *dir, const char *stage, int64_t split_id, const char *array_job,
                             int task, slurm_facts *f, char *err, size_t errlen);

/* The slurm_part_fn of natadv's parts (made by split); ctx is the parent
 * workspace's store. abandoned: store_part_fate says the part is gone (by
 * part.json's split and part, or, its folder deleted, by split_id and
 * task); done: (crawl) no url pending, (score) every image scored by the
 * part's model (part.json names it); ran: store_runs_of_task. */
int slurm_part_facts(void *ctx, const char *dir, const char *stage, int64_t split_id, const char *array_job, int task,
                     slurm_facts *f, char *err, size_t errlen);

typedef struct slurm_part {
	int index;
	slurm_state state;
	char job[48];                 /* "ARRAY_TASK" of the latest array that ran it, or "" */
	char slurm[32];               /* squeue's state for that task ("COMPLETED", ...), or "" */
	char why[128];                /* a few words on how the state was decided */
} slurm_part;

typedef struct slurm_status {
	slurm_part *parts;            /* s->nparts, by index */
	int nparts;
	int n[SLURM_NSTATES];         /* parts in each slurm_state */
	char merge_job[32];           /* the latest merge job, or "" */
	char merge_state[32];         /* squeue's state for it, or "" when squeue no longer knows it */
} slurm_status;

/* Asks squeue about every job of s (one call: squeue -h -r -t all -j
 * ID,...), reads each part's facts (part_fn; a part it cannot read is
 * unreadable, and its why says why) and its latest task's exit file, and
 * decides its state (slurm_decide). Returns 0 and *out
 * (slurm_status_release), NATADV_EIO when squeue cannot run (err), or
 * NATADV_ENOMEM. */
int slurm_status_get(const slurm_sub *s, slurm_part_fn part_fn, void *ctx, slurm_status *out, char *err,
                     size_t errlen);
/* Whether every part is done or abandoned: nothing left to run. */
int slurm_status_finished(const slurm_status *st);
/* Frees what st holds; accepts a zeroed struct. */
void slurm_status_release(slurm_status *st);
/* Writes the indexes of the parts to run again as an --array list ("3,17")
 * into out: failed, cancelled, timed out, and pending ones never submitted
 * (after --dry-run); never an abandoned one. Returns how many, or -1 when
 * out is full. */
int slurm_status_rerun_list(const slurm_status *st, buf *out);

/* Waits until squeue reports job as finished (any state but pending,
 * running, completing, configuring, suspended, resizing) or no longer
 * knows it, polling every poll_s seconds; stops early when *stop is set.
 * Returns 0 (state gets squeue's last word, "" when it no longer knew the
 * job), NATADV_EINTR when stopped, NATADV_EIO when squeue cannot run. */
int slurm_wait_job(const char *job, double poll_s, volatile sig_atomic_t *stop, char state[32], char *err,
                   size_t errlen);

/* Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null, and
 * collects its stdout into out and its stderr into errout (either may be
 * NULL: discarded), each up to its buf's max. *status gets the exit status
 * (128 + signal when killed). Returns 0, NATADV_EIO when it cannot be run
 * (err says why), or NATADV_ENOMEM. */
int slurm_exec(const char *const *argv, buf *out, buf *errout, int *status, char *err, size_t errlen);

#endif
