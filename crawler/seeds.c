/* seeds.c — streaming reader for seed lists in TSV, CSV (RFC 4180) and JSON
 * Lines. Input is read through a fixed block buffer into one record buffer
 * capped at SEED_MAX_LINE, so memory stays bounded whatever the file holds.
 * Invariants of the reader:
 *   1. rec holds exactly the current record (header or row), NUL-terminated;
 *      row fields point into it (or into json) until the next call.
 *   2. lineno counts the physical lines consumed so far; a CSV record that
 *      spans lines is reported at the line it started on.
 *   3. After a bad row the input is positioned at the start of the next
 *      physical line, so seed_next can simply be called again. */
#include "crawler/seeds.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"

enum seed_fmt { FMT_TSV, FMT_CSV, FMT_JSONL };

enum { COL_URL, COL_WNID, COL_PAGE_URL, COL_LICENSE, COL_AUTHOR, COL_SOURCE, COL_QUERY, NCOLS };

static const char *const col_names[NCOLS] = {
	"url", "wnid", "page_url", "license", "author", "source", "query",
};

/* CSV scanner states; see csv_step. */
enum { CSV_START, CSV_UNQ, CSV_Q, CSV_QQ };

struct seed_reader {
	FILE *f;
	char *path;          /* for error messages */
	enum seed_fmt fmt;
	long lineno;         /* physical lines consumed */
	int eof;             /* the file has no more bytes */
	int pending;         /* rec holds a JSON line read while sniffing */
	long pending_line;
	buf rec;             /* current record, at most SEED_MAX_LINE bytes */
	long col[NCOLS];     /* field index of each known column, or -1 */
	json_t *json;        /* the current JSON row, owns its strings */
	size_t ipos, ilen;   /* unread part of in[] */
	unsigned char in[64 * 1024];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t i;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* Messages may quote input (JSON parse errors); keep them one line. */
	for (i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
}

static int fill(seed_reader *r)
{
	r->ipos = 0;
	r->ilen = fread(r->in, 1, sizeof r->in, r->f);
	if (r->ilen == 0) {
		if (ferror(r->f))
			return NATADV_EIO;
		r->eof = 1;
	}
	return 0;
}

/* Appends the next physical line, without its "\n" and trailing "\r", to
 * rec. *got is 0 at end of file. When the line does not fit, the rest of it
 * is consumed and dropped and *too_long is set. Returns 0 or a fatal code. */
static int read_line(seed_reader *r, int *got, int *too_long)
{
	size_t start = r->rec.len;
	int any = 0, rc;

	*got = 0;
	*too_long = 0;
	for (;;) {
		unsigned char *p, *nl;
		size_t avail, n;
		if (r->ipos == r->ilen) {
			if (r->eof)
				break;
			rc = fill(r);
			if (rc)
				return rc;
			if (r->eof)
				break;
		}
		p = r->in + r->ipos;
		avail = r->ilen - r->ipos;
		nl = memchr(p, '\n', avail);
		n = nl ? (size_t)(nl - p) : avail;
		any = 1;
		if (!*too_long) {
			rc = buf_append(&r->rec, p, n);
			if (rc == NATADV_ETOOBIG)
				*too_long = 1;
			else if (rc)
				return rc;
		}
		r->ipos += n + (nl ? 1 : 0);
		if (nl)
			break;
	}
	if (!any)
		return 0;
	*got = 1;
	r->lineno++;
	if (!*too_long && r->rec.len > start && r->rec.data[r->rec.len - 1] == '\r')
		r->rec.data[--r->rec.len] = '\0';
	return 0;
}

static int io_error(seed_reader *r, int rc, char *err, size_t errlen)
{
	if (rc == NATADV_EIO)
		set_err(err, errlen, "cannot read '%s': %s", r->path, strerror(errno));
	else
		set_err(err, errlen, "reading '%s': %s", r->path, natadv_strerror(rc));
	return rc;
}

static int is_blank(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* One step of the RFC 4180 state machine, shared by the scanner that decides
 * whether a record continues on the next line and by the splitter, so the
 * two can never disagree. Lenient like Python's csv: a quote inside an
 * unquoted field, or text after a closing quote, is kept literally. */
static int csv_step(int st, char c, int *emit, int *end_field)
{
	*emit = 0;
	*end_field = 0;
	switch (st) {
	case CSV_START:
		if (c == '"')
			return CSV_Q;
		if (c == ',') {
			*end_field = 1;
			return CSV_START;
		}
		*emit = 1;
		return CSV_UNQ;
	case CSV_UNQ:
		if (c == ',') {
			*end_field = 1;
			return CSV_START;
		}
		*emit = 1;
		return CSV_UNQ;
	case CSV_Q:
		if (c == '"')
			return CSV_QQ;
		*emit = 1;
		return CSV_Q;
	default: /* CSV_QQ: a quote inside quotes, escape or end of the field */
		if (c == '"') {
			*emit = 1;
			return CSV_Q;
		}
		if (c == ',') {
			*end_field = 1;
			return CSV_START;
		}
		*emit = 1;
		return CSV_UNQ;
	}
}

enum { CSV_COMPLETE, CSV_TOO_LONG, CSV_UNTERMINATED };

/* rec holds the first line of a CSV record; appends following lines while a
 * quoted field is open. Sets *status; returns 0 or a fatal code. */
static int csv_complete(seed_reader *r, int *status)
{
	int st = CSV_START, emit, end, got, too_long, rc;
	size_t i = 0;

	for (;;) {
		for (; i < r->rec.len; i++)
			st = csv_step(st, r->rec.data[i], &emit, &end);
		if (st != CSV_Q) {
			*status = CSV_COMPLETE;
			return 0;
		}
		/* The newline belongs to the quoted field. */
		rc = buf_append(&r->rec, "\n", 1);
		if (rc == NATADV_ETOOBIG) {
			*status = CSV_TOO_LONG;
			return 0;
		}
		if (rc)
			return rc;
		i = r->rec.len;
		rc = read_line(r, &got, &too_long);
		if (rc)
			return rc;
		if (!got) {
			*status = CSV_UNTERMINATED;
			return 0;
		}
		if (too_long) {
			*status = CSV_TOO_LONG;
			return 0;
		}
	}
}

/* Splits rec in place into NUL-separated fields; returns their number. The
 * record has no NUL bytes, so the fields can be walked with strlen. */
static size_t split_fields(seed_reader *r)
{
	char *s = r->rec.data;
	size_t n = r->rec.len, i, w = 0, nf = 1;
	int st = CSV_START, emit, end;

	if (r->fmt == FMT_TSV) {
		for (i = 0; i < n; i++) {
			if (s[i] == '\t') {
				s[i] = '\0';
				nf++;
			}
		}
		return nf;
	}
	/* Unescaping only shrinks, so writing at w <= i is safe. */
	for (i = 0; i < n; i++) {
		st = csv_step(st, s[i], &emit, &end);
		if (emit)
			s[w++] = s[i];
		else if (end) {
			s[w++] = '\0';
			nf++;
		}
	}
	s[w] = '\0';
	return nf;
}

static const char *trim(char *s)
{
	size_t n;
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

static int parse_header(seed_reader *r, char *err, size_t errlen)
{
	size_t nf = split_fields(r), i;
	char *p = r->rec.data;
	int k;

	for (k = 0; k < NCOLS; k++)
		r->col[k] = -1;
	for (i = 0; i < nf; i++) {
		size_t len = strlen(p);
		const char *name = trim(p);
		for (k = 0; k < NCOLS; k++) {
			if (strcasecmp(name, col_names[k]) != 0)
				continue;
			if (r->col[k] >= 0) {
				set_err(err, errlen, "'%s' line %ld: duplicate column '%s'",
				        r->path, r->lineno, col_names[k]);
				return NATADV_EFORMAT;
			}
			r->col[k] = (long)i;
		}
		p += len + 1;
	}
	for (k = 0; k <= COL_WNID; k++) {
		if (r->col[k] < 0) {
			set_err(err, errlen, "'%s' line %ld: header has no '%s' column",
			        r->path, r->lineno, col_names[k]);
			return NATADV_EFORMAT;
		}
	}
	return 0;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcasecmp(s + n - m, suf) == 0;
}

/* Reads up to the first non-blank line into rec; *got is 0 if there is none. */
static int first_line(seed_reader *r, int *got, char *err, size_t errlen)
{
	int too_long, rc;
	for (;;) {
		buf_reset(&r->rec);
		rc = read_line(r, got, &too_long);
		if (rc)
			return io_error(r, rc, err, errlen);
		if (!*got)
			return 0;
		if (too_long) {
			set_err(err, errlen, "'%s' line %ld: first line longer than %d bytes",
			        r->path, r->lineno, SEED_MAX_LINE);
			return NATADV_EFORMAT;
		}
		if (!is_blank(r->rec.data, r->rec.len))
			return 0;
	}
}

int seed_open(const char *path, seed_reader **out, char *err, size_t errlen)
{
	seed_reader *r;
	int rc, got, sniff = 0, status;
	size_t i;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (!r)
		return NATADV_ENOMEM;
	buf_init(&r->rec, SEED_MAX_LINE);
	r->path = strdup(path);
	if (!r->path) {
		rc = NATADV_ENOMEM;
		goto fail;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		set_err(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		rc = NATADV_EIO;
		goto fail;
	}
	rc = fill(r);
	if (rc) {
		rc = io_error(r, rc, err, errlen);
		goto fail;
	}
	if (r->ilen >= 3 && memcmp(r->in, "\xEF\xBB\xBF", 3) == 0)
		r->ipos = 3;

	if (has_suffix(path, ".tsv"))
		r->fmt = FMT_TSV;
	else if (has_suffix(path, ".csv"))
		r->fmt = FMT_CSV;
	else if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson"))
		r->fmt = FMT_JSONL;
	else
		sniff = 1;
	if (r->fmt == FMT_JSONL && !sniff)
		goto done;

	rc = first_line(r, &got, err, errlen);
	if (rc)
		goto fail;
	if (!got) {
		set_err(err, errlen, "'%s': empty file, no header", path);
		rc = NATADV_EFORMAT;
		goto fail;
	}
	if (sniff) {
		for (i = 0; r->rec.data[i] == ' ' || r->rec.data[i] == '\t'; i++)
			;
		if (r->rec.data[i] == '{')
			r->fmt = FMT_JSONL;
		else if (memchr(r->rec.data, '\t', r->rec.len))
			r->fmt = FMT_TSV;
		else
			r->fmt = FMT_CSV;
	}
	if (r->fmt == FMT_JSONL) {
		r->pending = 1;
		r->pending_line = r->lineno;
		goto done;
	}
	if (memchr(r->rec.data, '\0', r->rec.len)) {
		set_err(err, errlen, "'%s' line %ld: NUL byte in header", path, r->lineno);
		rc = NATADV_EFORMAT;
		goto fail;
	}
	if (r->fmt == FMT_CSV) {
		long start = r->lineno;
		rc = csv_complete(r, &status);
		if (rc) {
			rc = io_error(r, rc, err, errlen);
			goto fail;
		}
		if (status != CSV_COMPLETE) {
			set_err(err, errlen, "'%s' line %ld: %s in header", path, start,
			        status == CSV_TOO_LONG ? "record too long" : "unterminated quoted field");
			rc = NATADV_EFORMAT;
			goto fail;
		}
	}
	rc = parse_header(r, err, errlen);
	if (rc)
		goto fail;
done:
	*out = r;
	return 0;
fail:
	seed_close(r);
	return rc;
}

/* Reports a bad row: "line N: " and the formatted reason. */
static int bad_row(char *err, size_t errlen, long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad_row(char *err, size_t errlen, long line, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	set_err(err, errlen, "line %ld: %s", line, msg);
	return NATADV_EFORMAT;
}

/* Points row's fields at the values found for each column; returns 1. */
static int fill_row(seed_row *row, long line, const char *const val[NCOLS])
{
	row->line = line;
	row->url = val[COL_URL];
	row->wnid = val[COL_WNID];
	row->page_url = val[COL_PAGE_URL];
	row->license = val[COL_LICENSE];
	row->author = val[COL_AUTHOR];
	row->source = val[COL_SOURCE];
	row->query = val[COL_QUERY];
	return 1;
}

static int next_json(seed_reader *r, seed_row *row, long line, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *val[NCOLS];
	int k;

	r->json = json_loadb(r->rec.data, r->rec.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->json) {
		return bad_row(err, errlen, line, "invalid JSON: %s", jerr.text);
	}
	if (!json_is_object(r->json))
		return bad_row(err, errlen, line, "%s", "not a JSON object");
	for (k = 0; k < NCOLS; k++) {
		json_t *v = json_object_get(r->json, col_names[k]);
		val[k] = NULL;
		if (!v) {
			if (k <= COL_WNID)
				return bad_row(err, errlen, line, "missing key '%s'", col_names[k]);
			continue;
		}
		if (!json_is_string(v))
			return bad_row(err, errlen, line, "'%s' is not a string", col_names[k]);
		val[k] = json_string_value(v);
		if (!val[k][0]) {
			if (k <= COL_WNID)
				return bad_row(err, errlen, line, "empty '%s'", col_names[k]);
			val[k] = NULL;
		}
	}
	return fill_row(row, line, val);
}

static int next_delimited(seed_reader *r, seed_row *row, long line, char *err, size_t errlen)
{
	const char *val[NCOLS] = { NULL };
	size_t nf, i;
	char *p;
	int k;

	if (memchr(r->rec.data, '\0', r->rec.len))
		return bad_row(err, errlen, line, "%s", "NUL byte in line");
	nf = split_fields(r);
	p = r->rec.data;
	for (i = 0; i < nf; i++) {
		size_t len = strlen(p);
		for (k = 0; k < NCOLS; k++)
			if (r->col[k] == (long)i)
				val[k] = p;
		p += len + 1;
	}
	for (k = 0; k < NCOLS; k++) {
		if (k <= COL_WNID && !val[k])
			return bad_row(err, errlen, line, "missing column '%s'", col_names[k]);
		if (k <= COL_WNID && !val[k][0])
			return bad_row(err, errlen, line, "empty '%s'", col_names[k]);
		if (val[k] && !val[k][0])
			val[k] = NULL;
	}
	return fill_row(row, line, val);
}

int seed_next(seed_reader *r, seed_row *row, char *err, size_t errlen)
{
	int rc, got, too_long, status;
	long line;

	memset(row, 0, sizeof *row);
	json_decref(r->json);
	r->json = NULL;
	for (;;) {
		if (r->pending) {
			r->pending = 0;
			line = r->pending_line;
			break;
		}
		buf_reset(&r->rec);
		rc = read_line(r, &got, &too_long);
		if (rc)
			return io_error(r, rc, err, errlen);
		if (!got)
			return 0;
		line = r->lineno;
		if (too_long)
			return bad_row(err, errlen, line, "line longer than %d bytes", SEED_MAX_LINE);
		if (r->rec.len == 0 || (r->fmt == FMT_JSONL && is_blank(r->rec.data, r->rec.len)))
			continue;
		break;
	}
	if (r->fmt == FMT_JSONL)
		return next_json(r, row, line, err, errlen);
	if (r->fmt == FMT_CSV) {
		rc = csv_complete(r, &status);
		if (rc)
			return io_error(r, rc, err, errlen);
		if (status == CSV_TOO_LONG)
			return bad_row(err, errlen, line, "record longer than %d bytes",
			               SEED_MAX_LINE);
		if (status == CSV_UNTERMINATED)
			return bad_row(err, errlen, line, "%s", "unterminated quoted field");
	}
	return next_delimited(r, row, line, err, errlen);
}

void seed_close(seed_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	json_decref(r->json);
	buf_release(&r->rec);
	free(r->path);
	free(r);
}

const char *seed_format_name(const seed_reader *r)
{
	switch (r->fmt) {
	case FMT_TSV: return "tsv";
	case FMT_CSV: return "csv";
	case FMT_JSONL: return "jsonl";
	}
	return "unknown";
}
