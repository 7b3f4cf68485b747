/* exec.c — running Slurm's commands (sbatch, squeue) with an argument
 * vector through posix_spawnp, never through a shell, and collecting what
 * they print. */
#include "slurm/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"

extern char **environ;

/* Sets up the child's stdin (/dev/null) and its stdout and stderr (the
 * write ends of the two pipes), closing the read ends. */
static int child_files(posix_spawn_file_actions_t *fa, const int po[2], const int pe[2])
{
	int rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!rc) rc = posix_spawn_file_actions_adddup2(fa, po[1], STDOUT_FILENO);
	if (!rc) rc = posix_spawn_file_actions_adddup2(fa, pe[1], STDERR_FILENO);
	if (!rc) rc = posix_spawn_file_actions_addclose(fa, po[0]);
	if (!rc) rc = posix_spawn_file_actions_addclose(fa, pe[0]);
	if (!rc) rc = posix_spawn_file_actions_addclose(fa, po[1]);
	if (!rc) rc = posix_spawn_file_actions_addclose(fa, pe[1]);
	return rc;
}

/* Reads both pipes to their end into out and errout (NULL: read and drop;
 * past a buf's max the rest is dropped too). 0 or NATADV_ENOMEM. */
static int drain(int fo, int fe, buf *out, buf *errout)
{
	struct pollfd p[2] = {{fo, POLLIN, 0}, {fe, POLLIN, 0}};
	buf *dst[2] = {out, errout};
	int open_n = 2, rc = 0;
	char chunk[4096];
	while (open_n > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, chunk, sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				open_n--;
				continue;
			}
			if (dst[i] && !rc) {
				int a = buf_append(dst[i], chunk, (size_t)n);
				if (a == NATADV_ENOMEM)
					rc = a;
			}
		}
	}
	return rc;
}

int slurm_exec(const char *const *argv, buf *out, buf *errout, int *status, char *err, size_t errlen)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	int have_fa = 0, rc = NATADV_EIO;
	pid_t pid = -1;
	*status = -1;
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		natadv_errf(err, errlen, "cannot run '%s': %s", argv[0], strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		natadv_errf(err, errlen, "cannot run '%s': out of memory", argv[0]);
		goto out;
	}
	have_fa = 1;
	int e = child_files(&fa, po, pe);
	if (!e)
		e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	if (e) {
		natadv_errf(err, errlen, "cannot run '%s': %s", argv[0], strerror(e));
		goto out;
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	rc = drain(po[0], pe[0], out, errout);
	int ws;
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			natadv_errf(err, errlen, "cannot wait for '%s': %s", argv[0], strerror(errno));
			rc = NATADV_EIO;
			goto out;
		}
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	if (rc)
		natadv_errf(err, errlen, "cannot read what '%s' printed: out of memory", argv[0]);
out:
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0) close(po[i]);
		if (pe[i] >= 0) close(pe[i]);
	}
	return rc;
}
