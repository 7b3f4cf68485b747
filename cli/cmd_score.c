/* cmd_score.c — `natadv score --model NAME`: predictions for every stored
 * image without a score for that model, resumable, with a live status line. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "filter/filter.h"

static void help(void)
{
	printf("usage: natadv score --model NAME [--batch N] [--threads N] [--decoders N] [--fast]\n\n"
	       "Runs the model over every stored image that has no score for it yet and\n"
	       "records the 1000 logits, the top-5, the argmax over the imagenet-a classes\n"
	       "with its probability, and the probability of each class the image is tagged\n"
	       "with. Images that cannot be decoded are recorded as unscorable with the\n"
	       "reason. Run it again after a stop to continue.\n\n"
	       "  --batch N      images per forward pass (8)\n"
	       "  --threads N    threads of the forward pass (default: one per core)\n"
	       "  --decoders N   decoding threads, overlapped with the forward pass (one per core)\n"
	       "  --fast         DCT-scaled JPEG decoding (faster, pixels differ from PIL's)\n");
}

struct line {
	int tty;
	int shown;
};

static void show(void *ctx, const filter_progress *p)
{
	struct line *l = ctx;
	if (!l->tty)
		return;
	double rate = p->elapsed > 0 ? (double)(p->scored + p->unscorable) / p->elapsed : 0;
	int64_t left = p->total - p->scored - p->unscorable;
	char a[32], b[32];
	fprintf(stderr, "\r\033[Kscore %s/%s  %.1f img/s  %lld unscorable  ETA %.0f s", cli_num(p->scored + p->unscorable, a),
	        cli_num(p->total, b), rate, (long long)p->unscorable, rate > 0 ? (double)left / rate : 0.0);
	l->shown = 1;
}

int cmd_score(struct cli *c, int argc, char **argv)
{
	enum { O_DECODERS = 256, O_FAST };
	static const struct option opts[] = {
		CLI_MODEL_OPTIONS,
		{"decoders", required_argument, 0, O_DECODERS},
		{"fast", no_argument, 0, O_FAST},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct cli_model_flags mf = CLI_MODEL_FLAGS_INIT;
	filter_score_opts o = {0};
	long long n;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_DECODERS:
			if (cli_parse_int("score", "--decoders", optarg, 1, 256, &n)) return EXIT_USAGE;
			o.decoders = (int)n;
			break;
		case O_FAST: o.fast = 1; break;
		case 'h': help(); return EXIT_OK;
		default:
			if (cli_model_flag("score", ch, optarg, &mf)) return EXIT_USAGE;
		}
	}
	const char *model = mf.model;
	o.batch = mf.batch;
	o.threads = mf.threads;
	if (!model)
		return cli_usage("score", "--model NAME is required");
	if (optind < argc)
		return cli_usage("score", "unexpected argument '%s'", argv[optind]);
	char err[1024], id[65];
	net *m = NULL;
	int status = EXIT_FAIL;
	if (filter_model_load(c->st, model, 1, &m, id, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	if (c->verbose)
		cli_model_said(model, m);
	struct line l = {isatty(STDERR_FILENO) && !c->quiet, 0};
	filter_progress p;
	int rc = filter_score_run(c->st, c->run_id, id, m, &o, &cli_stop, show, &l, &p, err, sizeof err);
	if (l.shown)
		fputs("\r\033[K", stderr);
	if (!c->quiet || rc) {
		char a[32], b[32], d[32];
		fprintf(stderr, "natadv: scored %s of %s images with '%s' (%s unscorable) in %.1f s, %.1f img/s\n",
		        cli_num(p.scored + p.unscorable, a), cli_num(p.total, b), model, cli_num(p.unscorable, d), p.elapsed,
		        p.elapsed > 0 ? (double)(p.scored + p.unscorable) / p.elapsed : 0.0);
	}
	if (rc == NATADV_EINTR) {
		cli_error("interrupted (run 'natadv score' again to continue)");
		goto out;
	}
	if (rc) {
		cli_error("score stopped: %s", err);
		goto out;
	}
	status = p.unscorable ? EXIT_PARTIAL : EXIT_OK;
out:
	net_free(m);
	return status;
}
