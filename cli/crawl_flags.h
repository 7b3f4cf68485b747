/* crawl_flags.h — the fetch options that `crawl` and `rebuild` share: one
 * getopt table fragment, one parser, one help text and the progress and
 * summary lines, so both commands take and show them alike. */
#ifndef NATADV_CLI_CRAWL_FLAGS_H
#define NATADV_CLI_CRAWL_FLAGS_H

#include <getopt.h>

#include "crawler/crawler.h"

enum {
	CF_CONC = 1000, CF_PER_HOST, CF_HOST_DELAY, CF_RETRIES, CF_RETRY_BASE, CF_MAX_BYTES, CF_CONNECT_TIMEOUT,
	CF_TIMEOUT, CF_LOW_SPEED, CF_LOW_SPEED_TIME, CF_MIN_SIDE, CF_MAX_PIXELS, CF_UA, CF_WORKERS, CF_ALLOW_PRIVATE,
	CF_ALLOW_ADDRESS
};

/* Entries for a command's struct option table. */
#define CLI_CRAWL_OPTIONS                                                   \
	{"concurrency", required_argument, 0, CF_CONC},                     \
	{"per-host", required_argument, 0, CF_PER_HOST},                    \
	{"host-delay", required_argument, 0, CF_HOST_DELAY},                \
	{"retries", required_argument, 0, CF_RETRIES},                      \
	{"retry-base", required_argument, 0, CF_RETRY_BASE},                \
	{"max-bytes", required_argument, 0, CF_MAX_BYTES},                  \
	{"connect-timeout", required_argument, 0, CF_CONNECT_TIMEOUT},      \
	{"timeout", required_argument, 0, CF_TIMEOUT},                      \
	{"low-speed", required_argument, 0, CF_LOW_SPEED},                  \
	{"low-speed-time", required_argument, 0, CF_LOW_SPEED_TIME},        \
	{"min-side", required_argument, 0, CF_MIN_SIDE},                    \
	{"max-pixels", required_argument, 0, CF_MAX_PIXELS},                \
	{"user-agent", required_argument, 0, CF_UA},                        \
	{"workers", required_argument, 0, CF_WORKERS},                      \
	{"allow-private", no_argument, 0, CF_ALLOW_PRIVATE},                \
	{"allow-address", required_argument, 0, CF_ALLOW_ADDRESS}

/* A command that crawls: its own getopt_long rows beside the crawl options
 * (ending in a zero row; values from 256 up to below CF_CONC, no 'h'), what
 * applies them (0, or EXIT_USAGE with the message printed) and its help. */
typedef struct cli_crawl_command {
	const char *name;                  /* "crawl", "rebuild" */
	const struct option *own;          /* at most CLI_CRAWL_OWN_MAX rows */
	int (*apply)(void *ctx, int ch, const char *arg);
	void (*help)(void);
	void *ctx;
} cli_crawl_command;
#define CLI_CRAWL_OWN_MAX 16
/* cli_crawl_getopt's answer after printing the help: the command exits 0. */
#define CLI_CRAWL_HELP (-1)

/* Parses argv for k: sets o to the defaults and NATADV_NOW (cli_crawl_env),
 * applies the crawl options to o and the command's own through k->apply;
 * no operand may follow. 0 to go on, CLI_CRAWL_HELP after --help, or
 * EXIT_USAGE (message printed). */
int cli_crawl_getopt(const cli_crawl_command *k, int argc, char **argv, crawl_opts *o);
/* Applies option ch (value arg) to o: returns 0 when applied, EXIT_USAGE
 * (message printed) for a bad value or an option that is not a crawl option. */
int cli_crawl_flag(const char *command, int ch, const char *arg, crawl_opts *o);
/* Reads NATADV_NOW (unix seconds; for tests) into o->clock_skew, so that
 * robots.txt's cache ages as if it were then: 0, or EXIT_USAGE (message
 * printed) for a bad value. */
int cli_crawl_env(const char *command, crawl_opts *o);
/* Adds the address block arg of --allow-address ("ADDR[/BITS]") to the
 * process's list (kept until exit) and points *nets and *n at the list:
 * 0, or EXIT_USAGE (message printed) for a bad or one block too many.
 * crawl, rebuild, discover and model fetch share it. */
int cli_allow_address(const char *command, const char *arg, const http_net **nets, size_t *n);
/* Prints the help lines of the crawl options to stdout. */
void cli_crawl_flags_help(void);

/* The live progress line: ctx is a struct cli_progress. */
struct cli_progress {
	int tty;     /* draw the line (stderr is a terminal and not --quiet) */
	int shown;   /* a line is on screen; clear it with cli_progress_clear */
};
/* crawl_run's progress callback: redraws the line on a terminal. */
void cli_crawl_progress(void *ctx, const crawl_progress *p);
/* Clears the progress line if one is shown. */
void cli_progress_clear(struct cli_progress *pl);
/* Prints "natadv: crawled N of M urls: ..." for p to stderr. */
void cli_crawl_summary(const crawl_progress *p);

#endif
