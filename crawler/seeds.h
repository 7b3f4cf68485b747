/* seeds.h — a streaming reader for seed lists (TSV, CSV, JSON Lines): the
 * candidate image URLs and their ImageNet class ids that a crawl starts from.
 * It reads one bounded record at a time, so a seed list may be any size. */
#ifndef NATADV_SEEDS_H
#define NATADV_SEEDS_H

#include <stddef.h>

/* Longest line (or CSV record, or JSON line) in bytes; longer ones are bad rows. */
#define SEED_MAX_LINE (64 * 1024)

typedef struct seed_reader seed_reader;

/* One seed. Fields point into the reader and stay valid until the next
 * seed_next or seed_close; url and wnid are never NULL or empty, the
 * optional ones are NULL when absent or empty. Nothing is validated here:
 * the caller checks url with url_check and wnid against the class table. */
typedef struct seed_row {
	long line; /* 1-based line the row starts on */
	const char *url, *wnid, *page_url, *license, *author, *source, *query;
} seed_row;

/* Opens the seed list at path. The format comes from the extension (.tsv
 * .csv .jsonl .ndjson, any case), else is sniffed from the first non-blank
 * line: '{' -> JSON Lines, a tab -> TSV, else CSV. For TSV and CSV it reads
 * the header, which must name 'url' and 'wnid'. Returns 0 and a reader the
 * caller frees with seed_close, or NATADV_EIO (cannot open or read),
 * NATADV_EFORMAT (bad or missing header), NATADV_ENOMEM; detail in err. */
int seed_open(const char *path, seed_reader **out, char *err, size_t errlen);

/* Reads the next row into *row. Returns 1 for a row, 0 at end of file,
 * NATADV_EFORMAT for a bad row (err says "line 12: missing column 'wnid'"
 * and the like; call again to go on with the next row), or another code
 * (NATADV_EIO, NATADV_ENOMEM) for a fatal error. */
int seed_next(seed_reader *r, seed_row *row, char *err, size_t errlen);

/* Closes the file and frees r; accepts NULL. */
void seed_close(seed_reader *r);

/* Returns "tsv", "csv" or "jsonl" (static string) for an open reader. */
const char *seed_format_name(const seed_reader *r);

#endif
