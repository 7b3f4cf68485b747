/* cmd_export.c — `natadv export`: the release of a class set's accepted
 * images as loaders expect it (see packager/packager.h). */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "packager/packager.h"
#include "report/report.h"
#include "review/review.h"

static void help(void)
{
	printf("usage: natadv export [--set NAME] --out DIR [--version V] [--tar] [--partial] [--force]\n\n"
	       "Writes the images of the set's selection in force that were accepted in review:\n"
	       "DIR/FOLDER/<wnid>/<xxh128>.jpg and DIR/FOLDER/README.txt (FOLDER is imagenet-a\n"
	       "for the set imagenet-a, else the set's name), and beside FOLDER manifest.jsonl\n"
	       "(the provenance of every image), classes.tsv, croissant.json and SHA256SUMS.\n"
	       "JPEG files are copied byte for byte, PNG files converted to JPEG (quality 95).\n"
	       "The release is written beside DIR and renamed into place when complete.\n"
	       "Then DIR/report.html gets the report of the set (natadv report): for people,\n"
	       "not part of the release (not in SHA256SUMS nor in the tar).\n\n"
	       "  --set NAME     the class set (imagenet-a)\n"
	       "  --out DIR      where the release goes; refused if it exists, unless --force\n"
	       "  --version V    the release's version (1.0)\n"
	       "  --tar          also DIR/FOLDER.tar, byte-reproducible: exporting the same\n"
	       "                 content again gives the same bytes; its SHA-256 and path go to\n"
	       "                 stdout as sha256sum prints them\n"
	       "  --partial      export even when some classes have no image (classes.tsv and\n"
	       "                 README.txt say which)\n"
	       "  --force        replace an existing release at DIR\n"
	       "SOURCE_DATE_EPOCH (unix seconds), when set, is the release time.\n");
}

/* The report of the released set beside the release (PKG_REPORT_FILE). It
 * is written beside the folder as DIR.tmp-<pid>-report.html (a name the
 * next export cleans up when this one is killed) and renamed into it, so
 * the release folder never holds a half-written file. */
static int export_report(struct cli *c, const char *set, const char *out)
{
	char path[4200], tmp[4200], err[512];
	report_opts ro = {.set = set, .target = REVIEW_TARGET_DEFAULT, .thumbs = 4, .run_id = c->run_id};
	snprintf(path, sizeof path, "%s/%s", out, PKG_REPORT_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%s", out, (long)getpid(), PKG_REPORT_FILE);
	if (report_write(c->st, &ro, tmp, err, sizeof err) != 0) {
		cli_error("exported '%s', but cannot write its report '%s': %s", set, path, err);
		return EXIT_FAIL;
	}
	if (rename(tmp, path) != 0) {
		cli_error("exported '%s', but cannot write its report '%s': %s", set, path, strerror(errno));
		unlink(tmp);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	enum { O_SET = 256, O_OUT, O_VERSION, O_TAR, O_PARTIAL, O_FORCE };
	static const struct option opts[] = {
		{"set", required_argument, 0, O_SET},         {"out", required_argument, 0, O_OUT},
		{"version", required_argument, 0, O_VERSION}, {"tar", no_argument, 0, O_TAR},
		{"partial", no_argument, 0, O_PARTIAL},       {"force", no_argument, 0, O_FORCE},
		{"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
	};
	pkg_export_opts o = {.set = "imagenet-a", .version = "1.0", .run_id = c->run_id};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_SET: o.set = optarg; break;
		case O_OUT: o.out = optarg; break;
		case O_VERSION: o.version = optarg; break;
		case O_TAR: o.tar = 1; break;
		case O_PARTIAL: o.partial = 1; break;
		case O_FORCE: o.force = 1; break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("export", "unknown option");
		}
	}
	if (!o.out)
		return cli_usage("export", "--out DIR is required");
	/* The reproducible-builds convention: one release time however often
	 * and wherever the same content is exported (e.g. by tests comparing
	 * two workspaces). */
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	long long t = 0;
	if (epoch && *epoch) {
		if (cli_parse_int("export", "SOURCE_DATE_EPOCH", epoch, 1, 253402300799LL, &t))
			return EXIT_USAGE;
		o.release_unix = t;
	}
	if (optind < argc)
		return cli_usage("export", "unexpected argument '%s'", argv[optind]);
	/* Room for the list of every empty class of a large set. */
	size_t errlen = 1 << 16;
	char *err = malloc(errlen);
	if (!err) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	err[0] = '\0';
	pkg_export_result r;
	int rc = pkg_export(c->st, &o, &r, err, errlen);
	if (rc) {
		cli_error("cannot export '%s': %s", o.set, err);
		free(err);
		return EXIT_FAIL;
	}
	free(err);
	if (!c->quiet) {
		char n[32];
		fprintf(stderr, "natadv: exported %s images of '%s' to '%s' (release %lld%s)\n", cli_num(r.images, n),
		        o.set, o.out, (long long)r.release_id, o.partial ? ", partial" : "");
	}
	if (o.tar)
		printf("%s  %s/%s.tar\n", r.tar_sha256, o.out, pkg_folder_name(o.set));
	return export_report(c, o.set, o.out);
}
