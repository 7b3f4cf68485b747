/* cmd_verify.c — `natadv verify DIR|TAR`: a release against its SHA256SUMS
 * and manifest; one line per problem on stdout, a summary on stderr. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "packager/packager.h"

static void print_problem(void *ctx, const char *kind, const char *path)
{
	(void)ctx;
	printf("%s: %s\n", kind, path);
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: natadv verify DIR|TAR\n\n"
			       "Checks a release folder, or a release tar with the SHA256SUMS and manifest.jsonl\n"
			       "beside it: every listed file present with its SHA-256, nothing extra, README.txt\n"
			       "present. Prints one line per problem (modified: PATH, missing: PATH,\n"
			       "extra: PATH, malformed: FILE:LINE) and exits 1 if there is any. Needs no\n"
			       "workspace.\n");
			return EXIT_OK;
		default: return cli_usage("verify", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("verify", optind >= argc ? "DIR or TAR is required" : "one DIR or TAR at a time");
	const char *path = argv[optind];
	char err[1024];
	pkg_verify_result r;
	int rc = pkg_verify(path, print_problem, NULL, &r, err, sizeof err);
	fflush(stdout);
	if (rc) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	int problems = r.modified + r.missing + r.extra + r.malformed;
	char n[32];
	if (problems) {
		cli_error("'%s' does not verify: %d modified, %d missing, %d extra, %d malformed (%s files checked)",
		          path, r.modified, r.missing, r.extra, r.malformed, cli_num(r.files, n));
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: '%s' verifies: %s files match SHA256SUMS and the manifest\n", path,
		        cli_num(r.files, n));
	return EXIT_OK;
}
