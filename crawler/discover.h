/* discover.h — finding candidate images for classes in image-search APIs
 * (Openverse, iNaturalist, Wikimedia Commons, Flickr). One small adapter per
 * source builds the request URL and parses the JSON; this module supplies the
 * queries from WordNet names, licence normalisation, and the polite,
 * resumable run that stores each page with the API request that found it. */
#ifndef NATADV_DISCOVER_H
#define NATADV_DISCOVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crawler/http.h"
#include "store/store.h"

/* Largest API response body read, in bytes. */
#define DISC_MAX_BODY (8u << 20)

/* Licence families, as --license names them. */
enum {
	DISC_LIC_CC0 = 1 << 0,
	DISC_LIC_PDM = 1 << 1,
	DISC_LIC_BY = 1 << 2,
	DISC_LIC_BY_SA = 1 << 3,
	DISC_LIC_BY_NC = 1 << 4,
	DISC_LIC_BY_ND = 1 << 5,
	DISC_LIC_BY_NC_SA = 1 << 6,
	DISC_LIC_BY_NC_ND = 1 << 7,
	/* redistribution with attribution: what a dataset release may contain */
	DISC_LIC_DEFAULT = DISC_LIC_CC0 | DISC_LIC_PDM | DISC_LIC_BY | DISC_LIC_BY_SA,
};

/* One image a source returned; strings are owned by the page. */
typedef struct disc_item {
	char *url;          /* the image to fetch as the source gave it (iNaturalist: size word
	                       rewritten); NULL when the source offers none */
	char *page_url;     /* the image's page at the source */
	char *license;      /* normalised ("cc-by-4.0", "cc0-1.0", "pdm"); NULL if not recognised */
	char *license_raw;  /* the licence as the source wrote it; NULL if it gave none */
	char *author, *title;
	char *attribution;  /* the credit line the source asks for, verbatim; NULL if none */
	char *source_id;    /* the source's own id; never NULL */
	char *mime;         /* the media type when the source says, else NULL */
	long width, height; /* 0 when unknown */
} disc_item;

/* One parsed response. */
typedef struct disc_page {
	disc_item *items;
	size_t n, cap;
	char *next;         /* the page token of the following request; NULL at the end */
} disc_page;

/* Frees the page's items and token and leaves it empty; accepts a zeroed page. */
void disc_page_release(disc_page *p);

/* What one request asks a source. */
typedef struct disc_req {
	const char *query;  /* the search words */
	int scientific;     /* query is a Latin binomial (iNaturalist searches it as a taxon) */
	const char *page;   /* NULL for the first page, else a disc_page.next token */
	int page_size;
	unsigned licenses;  /* DISC_LIC_* families the source is asked to filter by */
	const char *api_key;/* Flickr's; NULL leaves it out (the URL recorded as provenance) */
} disc_req;

/* A source adapter (crawler/src_*.c). */
typedef struct disc_source {
	const char *name;           /* "openverse", as --source names it */
	const char *endpoint;       /* default base URL, no trailing '/' */
	double min_interval;        /* default seconds between requests */
	int page_size, max_page_size;
	int numbered;               /* page tokens are 1, 2, 3, ... (else opaque continuation) */
	int scientific_first;       /* ask the Latin name before the common name */
	const char *key_env;        /* environment variable holding an API key, or NULL */
	/* Appends the request URL for r to out; base is the endpoint. 0 or an error code. */
	int (*build)(const char *base, const disc_req *r, buf *out);
	/* Parses one response body to request r into out (empty on entry). Returns 0, or
	 * NATADV_EFORMAT with err saying what is wrong ("results[3].url is a number,
	 * expected a string"); out->next may be set even then, if the body said it. */
	int (*parse)(const char *body, size_t len, const disc_req *r, disc_page *out, char *err,
	             size_t errlen);
} disc_source;

extern const disc_source disc_openverse, disc_inaturalist, disc_wikimedia, disc_flickr;

/* Returns the adapter called name ("openverse", ...), or NULL. */
const disc_source *disc_source_find(const char *name);

/* ---- shared helpers (used by the adapters, tested on their own) ---- */

/* Splits a class's WordNet names ("goldfinch, Carduelis carduelis") into the
 * common-name query (the first name) and, when the last of two or more names
 * is a Latin binomial, the scientific one; tmpl ("photo of {name}", may be
 * NULL) is applied to both. *common and *scientific (NULL when there is none)
 * are malloc'd and the caller frees them. 0, NATADV_EINVAL (no name, or a
 * template without {name}) or NATADV_ENOMEM. */
int disc_class_queries(const char *names, const char *tmpl, char **common, char **scientific);

/* Normalises a licence string ("CC BY-SA 4.0", "cc-by", "by 2.0", "CC0",
 * "Public domain") into out as an SPDX-style id ("cc-by-sa-4.0", "cc-by-4.0"
 * with default_version when the string has none, "cc0-1.0", "pdm"). Returns
 * out, or NULL when the string is not a licence this module knows. */
const char *disc_license_norm(const char *raw, const char *default_version, char *out, size_t outlen);

/* Returns the DISC_LIC_* family of a normalised licence, or 0 for others. */
unsigned disc_license_family(const char *norm);

/* Parses a --license list ("cc0,pdm,by,by-sa") into *mask. 0 or NATADV_EINVAL
 * with err naming the bad item. */
int disc_license_parse(const char *list, unsigned *mask, char *err, size_t errlen);

/* Appends the text of an HTML fragment to out: tags dropped, the common
 * entities and numeric references decoded, white space collapsed, trimmed. */
int disc_strip_html(const char *html, buf *out);

/* Appends "?key=value" or "&key=value" (whichever fits out so far) with value
 * percent-encoded to out. */
int disc_url_param(buf *out, const char *key, const char *value);

/* ---- the run ---- */

typedef struct disc_opts {
	const disc_source *src;
	const char *endpoint;       /* NULL: the source's */
	const char *set;            /* class set to search when wnids is NULL ("imagenet-a") */
	char **wnids;               /* classes to search, or NULL */
	size_t nwnids;
	int per_class;              /* stop a class once this source queued this many (100) */
	unsigned licenses;          /* families queued (DISC_LIC_DEFAULT); the rest is recorded only */
	const char *query_template; /* "photo of {name}" or NULL */
	double min_interval;        /* seconds between requests; < 0: the source's default */
	int64_t max_requests;       /* hard cap on HTTP requests in this run; 0: none */
	int max_pages;              /* pages per query in one run (50) */
	int page_size;              /* 0: the source's default */
	int retries;                /* retries of a page after 429, 5xx or a network error (4) */
	double retry_base;          /* first backoff after a 5xx or network error, doubled each time (2 s) */
	double max_wait;            /* cap on one wait, Retry-After included (300 s) */
	long connect_timeout_ms;    /* 10 s */
	long timeout_ms;            /* whole request, 60 s */
	int allow_private;          /* permit loopback/private addresses (tests) */
	const http_net *allow_nets; /* nallow_nets private blocks let through (--allow-address) */
	size_t nallow_nets;
	const char *user_agent;
	const char *api_key;        /* for sources with key_env; never stored */
} disc_opts;

/* Fills o with the defaults above (src NULL). */
void disc_opts_default(disc_opts *o);

typedef struct disc_summary {
	int64_t classes;            /* classes to search */
	int64_t classes_done;       /* of which finished (or already had per_class) */
	int64_t requests;           /* HTTP requests made in this run */
	int64_t pages, failed_pages;
	int64_t candidates;         /* images the stored pages held */
	int64_t queued;             /* of which queued for crawling */
	int64_t new_urls;           /* urls new to the frontier */
	int64_t not_queued;         /* recorded only (licence, no usable url, ...) */
	int capped;                 /* stopped at max_requests */
	double elapsed;
} disc_summary;

enum { DISC_MSG_WARN, DISC_MSG_INFO };

typedef struct disc_report {
	void (*msg)(void *ctx, int level, const char *msg);   /* a warning or a note, one line */
	void (*progress)(void *ctx, const disc_summary *p);   /* after every request */
	void *ctx;
} disc_report;

/* Searches o->src for every class and stores what it finds: each request
 * is an api_requests row; each page's candidates are stored with it in one
 * transaction (all or nothing). A class goes on from where an earlier run
 * stopped. Bad pages are reported through rep->msg and skipped. Returns 0,
 * NATADV_EINTR when *stop became non-zero, or an error code (err says why)
 * for what stops the run (database errors, the source failing again and
 * again); *sum (never NULL) gets the counts either way. */
int disc_run(store *s, int64_t run_id, const disc_opts *o, const volatile sig_atomic_t *stop,
             const disc_report *rep, disc_summary *sum, char *err, size_t errlen);

#endif
