/* test_slurm.c — the Slurm module without a cluster: running a program with
 * an argument vector, the batch scripts (run with sh, as a task would run
 * them, against a stand-in natadv that writes down its arguments), every
 * value quoted whatever it holds, submission.json written and read back,
 * and the list of parts to run again. */
#include "common/buf.h"
#include "common/err.h"
#include "slurm/slurm.h"
#include "tests/t.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void read_text(const char *path, buf *b)
{
	char err[256];
	buf_reset(b);
	T_EQ_INT(buf_read_file(b, path, err, sizeof err), 0);
}

static void test_exec(void)
{
	buf out, eout;
	buf_init(&out, 1024);
	buf_init(&eout, 1024);
	int status;
	char err[256];
	const char *argv[] = {"sh", "-c", "printf 'o u t'; printf err >&2; exit 3", NULL};
	T_EQ_INT(slurm_exec(argv, &out, &eout, &status, err, sizeof err), 0);
	T_EQ_STR(buf_cstr(&out), "o u t");
	T_EQ_STR(buf_cstr(&eout), "err");
	T_EQ_INT(status, 3);
	/* no shell between: a ';' in an argument is only a character */
	const char *echo[] = {"echo", "a; exit 7", NULL};
	buf_reset(&out);
	T_EQ_INT(slurm_exec(echo, &out, NULL, &status, err, sizeof err), 0);
	T_EQ_STR(buf_cstr(&out), "a; exit 7\n");
	T_EQ_INT(status, 0);
	const char *none[] = {"natadv-no-such-program", NULL};
	T_EQ_INT(slurm_exec(none, &out, &eout, &status, err, sizeof err), NATADV_EIO);
	T_CHECK(strstr(err, "cannot run 'natadv-no-such-program'") != NULL);
	buf_release(&out);
	buf_release(&eout);
}

/* A submission whose every path and value holds what a shell or sbatch
 * would read otherwise: spaces, quotes, $, backquotes, #. */
static slurm_sub *odd_sub(const char *stage, int nparts, int max_running)
{
	char ws[512], parts[512], sdir[512], fake[512], err[256];
	snprintf(ws, sizeof ws, "%s/w s'q\"$HOME`id`", dir);
	snprintf(parts, sizeof parts, "%s/parts", ws);
	snprintf(sdir, sizeof sdir, "%s/slurm dir", ws);
	snprintf(fake, sizeof fake, "%s/fake natadv", dir);
	mkdir(ws, 0755);
	const char *args[] = {"--user-agent", "it's \"x\" $HOME `id` # not a comment", "--retries", "0"};
	const char *extra[] = {"--comment=a \"b\" \\ c", "--exclusive"};
	slurm_opts o = {.partition = "p 1", .time = "1:00", .cpus_per_task = 2, .max_running = max_running,
	                .extra = extra, .nextra = 2};
	slurm_sub *s = NULL;
	T_EQ_INT(slurm_sub_new("crawl-7", stage, ws, parts, sdir, fake, nparts, args, 4, &o, &s, err, sizeof err), 0);
	return s;
}

/* The array script's TERM trap (natadv and the shell both get TERM, from
 * scancel or at the time limit): "cancelled", or "timeout" when squeue
 * gives the task's reason as TimeLimit. squeue here is a stand-in on PATH
 * that answers for job $SLURM_JOB_ID what FAKE_REASON says. */
static void term_trap(const slurm_sub *s, const char *const *run, buf *b)
{
	char bin[400], path[700], err[256], oldpath[8192];
	snprintf(bin, sizeof bin, "%s/bin", dir);
	mkdir(bin, 0755);
	snprintf(path, sizeof path, "%s/squeue", bin);
	write_text(path, "#!/bin/sh\n[ \"$1 $2 $3 $4 $5\" = \"-h -j $SLURM_JOB_ID -o %r\" ] && echo \"$FAKE_REASON\"\n", 0755);
	snprintf(oldpath, sizeof oldpath, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char newpath[8600];
	snprintf(newpath, sizeof newpath, "%s:%s", bin, oldpath);
	setenv("PATH", newpath, 1);
	setenv("SLURM_JOB_ID", "9", 1);
	setenv("FAKE_EXIT", "143", 1);
	const char *reasons[] = {"None", "TimeLimit"}, *want[] = {"cancelled job 5_1\n", "timeout job 5_1\n"};
	slurm_exit parsed[] = {SLURM_EXIT_CANCELLED, SLURM_EXIT_TIMEOUT};
	snprintf(path, sizeof path, "%s/logs/part-0001.exit", s->dir);
	for (int i = 0; i < 2; i++) {
		setenv("FAKE_REASON", reasons[i], 1);
		int status;
		T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
		T_EQ_INT(status, 143);
		read_text(path, b);
		T_EQ_STR(buf_cstr(b), want[i]);
		T_EQ_INT(slurm_exit_parse(buf_cstr(b), "5_1"), parsed[i]);
	}
	setenv("PATH", oldpath, 1);
	unsetenv("SLURM_JOB_ID");
	unsetenv("FAKE_REASON");
}

static void test_scripts(void)
{
	char fake[512], path[700], err[256];
	snprintf(fake, sizeof fake, "%s/fake natadv", dir);
	/* the stand-in natadv: one argument a line, into $FAKE_OUT */
	write_text(fake, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_OUT\"\n"
	                 "[ \"${FAKE_EXIT:-0}\" = 143 ] && kill -TERM $PPID\nexit \"${FAKE_EXIT:-0}\"\n", 0755);
	slurm_sub *s = odd_sub("crawl", 4, 2);
	if (!s)
		return;
	T_EQ_INT(slurm_write_scripts(s, err, sizeof err), 0);
	buf b;
	buf_init(&b, 1 << 20);
	snprintf(path, sizeof path, "%s/array.sbatch", s->dir);
	read_text(path, &b);
	T_CHECK(strstr(buf_cstr(&b), "\n#SBATCH --array=\"0-3%2\"\n") != NULL);
	T_CHECK(strstr(buf_cstr(&b), "\n#SBATCH --partition=\"p 1\"\n") != NULL);
	T_CHECK(strstr(buf_cstr(&b), "\n#SBATCH --cpus-per-task=\"2\"\n") != NULL);
	T_CHECK(strstr(buf_cstr(&b), "\n#SBATCH --comment=\"a \\\"b\\\" \\\\ c\"\n") != NULL);
	T_CHECK(strstr(buf_cstr(&b), "\n#SBATCH --exclusive\n") != NULL);

	/* task 1, as Slurm would run it */
	char out[600];
	snprintf(out, sizeof out, "%s/args", dir);
	setenv("FAKE_OUT", out, 1);
	setenv("SLURM_ARRAY_TASK_ID", "1", 1);
	setenv("SLURM_ARRAY_JOB_ID", "5", 1);
	const char *run[] = {"sh", path, NULL};
	int status;
	T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(status, 0);
	char want[2048];
	snprintf(want, sizeof want, "-w\n%s/part-0001\ncrawl\n--user-agent\nit's \"x\" $HOME `id` # not a comment\n--retries\n0\n",
	         s->parts);
	read_text(out, &b);
	T_EQ_STR(buf_cstr(&b), want);
	snprintf(path, sizeof path, "%s/logs/part-0001.exit", s->dir);
	read_text(path, &b);
	T_EQ_STR(buf_cstr(&b), "exit 0 job 5_1\n");
	/* exit 3 (some items failed) is a finished part; exit 1 is not */
	setenv("FAKE_EXIT", "3", 1);
	snprintf(path, sizeof path, "%s/array.sbatch", s->dir);
	T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(status, 0);
	setenv("FAKE_EXIT", "1", 1);
	T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(status, 1);
	snprintf(path, sizeof path, "%s/logs/part-0001.exit", s->dir);
	read_text(path, &b);
	T_EQ_STR(buf_cstr(&b), "exit 1 job 5_1\n");
	T_EQ_INT(slurm_exit_parse(buf_cstr(&b), "5_1"), SLURM_EXIT_FAILED);
	snprintf(path, sizeof path, "%s/array.sbatch", s->dir);
	term_trap(s, run, &b);
	unsetenv("FAKE_EXIT");

	/* the merge */
	snprintf(path, sizeof path, "%s/merge.sbatch", s->dir);
	run[1] = path;
	T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(status, 0);
	snprintf(want, sizeof want, "-w\n%s\nmerge\n%s\n", s->workspace, s->parts);
	read_text(out, &b);
	T_EQ_STR(buf_cstr(&b), want);
	/* written again without part 1 (abandoned): each other part by name */
	unsigned char skip[4] = {0, 1, 0, 0};
	T_EQ_INT(slurm_write_merge_script(s, skip, err, sizeof err), 0);
	T_EQ_INT(slurm_exec(run, NULL, NULL, &status, err, sizeof err), 0);
	T_EQ_INT(status, 0);
	snprintf(want, sizeof want, "-w\n%s\nmerge\n%s/part-0000\n%s/part-0002\n%s/part-0003\n", s->workspace, s->parts,
	         s->parts, s->parts);
	read_text(out, &b);
	T_EQ_STR(buf_cstr(&b), want);
	unsetenv("SLURM_ARRAY_TASK_ID");
	unsetenv("SLURM_ARRAY_JOB_ID");
	buf_release(&b);
	slurm_sub_free(s);
}

static void test_bad_values(void)
{
	char err[256];
	const char *args[] = {"--user-agent", "two\nlines"};
	slurm_opts o = {0};
	slurm_sub *s = NULL;
	T_EQ_INT(slurm_sub_new("x", "crawl", "/w", "/w/p", "/w/s", "/bin/natadv", 2, args, 2, &o, &s, err, sizeof err),
	         NATADV_EINVAL);
	T_CHECK(s == NULL);
	T_CHECK(strstr(err, "control character") != NULL);
	const char *extra[] = {"--comment=a\rb"};
	o.extra = extra;
	o.nextra = 1;
	T_EQ_INT(slurm_sub_new("x", "crawl", "/w", "/w/p", "/w/s", "/bin/natadv", 2, args, 0, &o, &s, err, sizeof err),
	         NATADV_EINVAL);
	T_CHECK(strstr(err, "--sbatch-arg") != NULL);
	o.nextra = 0;
	T_EQ_INT(slurm_sub_new("x", "crawl", "/w", "/w/p", "/w/s", "/bin/natadv", 0, args, 0, &o, &s, err, sizeof err),
	         NATADV_EINVAL);
}

static void test_roundtrip(void)
{
	char err[256];
	slurm_sub *s = odd_sub("score", 3, 0), *t = NULL;
	if (!s)
		return;
	T_EQ_INT(slurm_write_scripts(s, err, sizeof err), 0);
	s->split_id = 42;
	T_EQ_INT(slurm_sub_save(s, err, sizeof err), 0);
	T_EQ_INT(slurm_sub_load(s->dir, &t, err, sizeof err), 0);
	if (t) {
		T_EQ_STR(t->id, "crawl-7");
		T_EQ_STR(t->stage, "score");
		T_EQ_STR(t->workspace, s->workspace);
		T_EQ_STR(t->parts, s->parts);
		T_EQ_STR(t->natadv, s->natadv);
		T_EQ_INT(t->nparts, 3);
		T_EQ_INT(t->split_id, 42);
		T_EQ_INT(t->nstage_args, 4);
		T_EQ_STR(t->stage_args[1], "it's \"x\" $HOME `id` # not a comment");
		T_EQ_STR(t->partition, "p 1");
		T_CHECK(t->account == NULL);
		T_EQ_INT(t->cpus_per_task, 2);
		T_EQ_INT(t->nextra, 2);
		T_EQ_STR(t->extra[0], "--comment=a \"b\" \\ c");
		T_EQ_INT(t->narrays, 0);
		T_EQ_INT(t->nmerges, 0);
	}
	slurm_sub_free(t);
	T_EQ_INT(slurm_sub_load(dir, &t, err, sizeof err), NATADV_ENOTFOUND);
	T_CHECK(strstr(err, "no slurm submission in") != NULL);
	char bad[512];
	snprintf(bad, sizeof bad, "%s/submission.json", dir);
	write_text(bad, "{\"id\": 3}", 0644);
	T_EQ_INT(slurm_sub_load(dir, &t, err, sizeof err), NATADV_EFORMAT);
	unlink(bad);
	slurm_sub_free(s);
}

static void test_rerun_list(void)
{
	slurm_part p[7] = {{0}};
	slurm_status st = {.parts = p, .nparts = 7};
	slurm_state states[7] = {SLURM_DONE,    SLURM_FAILED,  SLURM_RUNNING,  SLURM_CANCELLED,
	                         SLURM_PENDING, SLURM_TIMEOUT, SLURM_ABANDONED};
	for (int i = 0; i < 7; i++) {
		p[i].index = i;
		p[i].state = states[i];
		st.n[states[i]]++;
		snprintf(p[i].job, sizeof p[i].job, "9_%d", i);
	}
	buf b;
	buf_init(&b, 256);
	/* failed, cancelled and timed out; never the abandoned one */
	T_EQ_INT(slurm_status_rerun_list(&st, &b), 3);
	T_EQ_STR(buf_cstr(&b), "1,3,5");
	p[4].job[0] = '\0'; /* pending, never submitted */
	buf_reset(&b);
	T_EQ_INT(slurm_status_rerun_list(&st, &b), 4);
	T_EQ_STR(buf_cstr(&b), "1,3,4,5");
	buf_release(&b);
	T_EQ_STR(slurm_state_name(SLURM_CANCELLED), "cancelled");
	T_EQ_STR(slurm_state_name(SLURM_TIMEOUT), "timeout");
	T_EQ_STR(slurm_state_name(SLURM_ABANDONED), "abandoned");
	/* finished: every part done or abandoned */
	T_EQ_INT(slurm_status_finished(&st), 0);
	slurm_part q[3] = {{.state = SLURM_DONE}, {.state = SLURM_ABANDONED}, {.state = SLURM_DONE}};
	slurm_status fin = {.parts = q, .nparts = 3, .n = {[SLURM_DONE] = 2, [SLURM_ABANDONED] = 1}};
	T_EQ_INT(slurm_status_finished(&fin), 1);
	fin.n[SLURM_ABANDONED] = 0;
	fin.n[SLURM_FAILED] = 1;
	T_EQ_INT(slurm_status_finished(&fin), 0);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/natadv-test-slurm.XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
	T_RUN(test_exec);
	T_RUN(test_scripts);
	T_RUN(test_bad_values);
	T_RUN(test_roundtrip);
	T_RUN(test_rerun_list);
	char *rm[] = {"rm", "-rf", dir, NULL};
	int status;
	char err[64];
	slurm_exec((const char *const *)rm, NULL, NULL, &status, err, sizeof err);
	return T_DONE();
}
