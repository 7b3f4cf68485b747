/* test_seeds.c — the seed list reader on TSV, CSV and JSON Lines files.
 * Each case writes a temporary file, reads it to the end and compares a
 * transcript of every result (rows and bad rows) with the expected text. */
#include "common/buf.h"
#include "common/err.h"
#include "crawler/seeds.h"
#include "tests/t.h"

#include <stdlib.h>
#include <unistd.h>

/* Writes n bytes to a new file /tmp/natadv-seeds-XXXXXX<suffix>. */
static void write_tmp(char *path, size_t pathlen, const char *suffix, const char *data,
                      size_t n)
{
	snprintf(path, pathlen, "/tmp/natadv-seeds-XXXXXX%s", suffix);
	int fd = mkstemps(path, (int)strlen(suffix));
	T_CHECK(fd >= 0);
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		T_CHECK(w > 0);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fd);
}

static const char *opt(const char *s)
{
	return s ? s : "-";
}

/* Reads the whole file at path; one transcript line per seed_next result. */
static int transcript(const char *path, buf *out, char *fmt_name, size_t fmt_len)
{
	seed_reader *r = NULL;
	seed_row row;
	char err[256];
	int rc = seed_open(path, &r, err, sizeof err);
	if (rc) {
		buf_printf(out, "OPEN %d %s\n", rc, err);
		return rc;
	}
	snprintf(fmt_name, fmt_len, "%s", seed_format_name(r));
	for (;;) {
		rc = seed_next(r, &row, err, sizeof err);
		if (rc == 1) {
			buf_printf(out, "%ld %s %s %s %s %s %s %s\n", row.line, row.url, row.wnid,
			           opt(row.page_url), opt(row.license), opt(row.author),
			           opt(row.source), opt(row.query));
			continue;
		}
		if (rc == NATADV_EFORMAT) {
			buf_printf(out, "BAD %s\n", err);
			continue;
		}
		if (rc != 0)
			buf_printf(out, "FATAL %d %s\n", rc, err);
		break;
	}
	seed_close(r);
	return rc;
}

/* Writes data to a temp file with suffix, reads it and compares. */
static void check_file(const char *suffix, const char *data, size_t n, const char *want_fmt,
                       const char *want)
{
	char path[64], fmt[16] = "";
	buf out;
	buf_init(&out, 1 << 20);
	write_tmp(path, sizeof path, suffix, data, n);
	transcript(path, &out, fmt, sizeof fmt);
	if (want_fmt)
		T_EQ_STR(fmt, want_fmt);
	T_EQ_STR(buf_cstr(&out), want);
	unlink(path);
	buf_release(&out);
}

/* Like check_file but the transcript need only start and end as given. */
static void check_file_ends(const char *suffix, const char *data, size_t n,
                            const char *want_start, const char *want_end)
{
	char path[64], fmt[16] = "";
	buf out;
	buf_init(&out, 4 << 20);
	write_tmp(path, sizeof path, suffix, data, n);
	transcript(path, &out, fmt, sizeof fmt);
	const char *got = buf_cstr(&out);
	size_t ls = strlen(want_start), le = strlen(want_end);
	T_CHECK(out.len >= ls && memcmp(got, want_start, ls) == 0);
	T_CHECK(out.len >= le && memcmp(got + out.len - le, want_end, le) == 0);
	unlink(path);
	buf_release(&out);
}

#define CHECK(suffix, lit, fmt, want) check_file(suffix, lit, sizeof(lit) - 1, fmt, want)

static void test_tsv(void)
{
	CHECK(".tsv",
	      "wnid\textra\turl\tlicense\tpage_url\n"
	      "n01440764\tx\thttp://a/1.jpg\tCC-BY\thttp://a/\n"
	      "\n"
	      "n01443537\t\thttp://a/2.jpg\t\t\r\n"
	      "n01443537\tx\r\n"
	      "n01484850\tx\t\tCC0\n"
	      "\tx\thttp://a/3.jpg\n"
	      "n01491361\tx\thttp://a/4.jpg",
	      "tsv",
	      "2 http://a/1.jpg n01440764 http://a/ CC-BY - - -\n"
	      "4 http://a/2.jpg n01443537 - - - - -\n"
	      "BAD line 5: missing column 'url'\n"
	      "BAD line 6: empty 'url'\n"
	      "BAD line 7: empty 'wnid'\n"
	      "8 http://a/4.jpg n01491361 - - - - -\n");
	/* Only url and wnid, all optional columns, CRLF everywhere. */
	CHECK(".TSV",
	      "url\twnid\tpage_url\tlicense\tauthor\tsource\tquery\r\n"
	      "http://a/1\tn1\tp\tl\ta\ts\tq q\r\n"
	      "http://a/2\tn2\r\n"
	      "http://a/3\r\n",
	      "tsv",
	      "2 http://a/1 n1 p l a s q q\n"
	      "3 http://a/2 n2 - - - - -\n"
	      "BAD line 4: missing column 'wnid'\n");
	/* TSV has no quoting: quotes are data. */
	CHECK(".tsv", "url\twnid\n\"http://a/,1\"\t\"n1\"\n", "tsv",
	      "2 \"http://a/,1\" \"n1\" - - - - -\n");
}

static void test_csv(void)
{
	CHECK(".csv",
	      "url,wnid,author,query\n"
	      "http://a/1,n1,\"Doe, Jane\",\"say \"\"hi\"\"\"\n"
	      "\"http://a/2\",n2,\"line one\nline two\",\"x\"\r\n"
	      "http://a/3,n3\n"
	      "\n"
	      "http://a/4,n4,\"three\r\nline\n\nfield\",q\n"
	      "http://a/5\n"
	      "http://a/6,\"\"\n"
	      "http://a/7,n7,,\n",
	      "csv",
	      "2 http://a/1 n1 - - Doe, Jane - say \"hi\"\n"
	      "3 http://a/2 n2 - - line one\nline two - x\n"
	      "5 http://a/3 n3 - - - - -\n"
	      "7 http://a/4 n4 - - three\nline\n\nfield - q\n"
	      "BAD line 11: missing column 'wnid'\n"
	      "BAD line 12: empty 'wnid'\n"
	      "13 http://a/7 n7 - - - - -\n");
	/* Quoted header names, leniency about stray quotes, unterminated quote. */
	CHECK(".csv",
	      "\"url\", wnid ,\"a,b\"\n"
	      "http://a/x\"y,n\"1,zzz\n"
	      "\"http://a/q\"tail,n2\n"
	      "http://a/1,\"n3\n"
	      "more\n",
	      "csv",
	      "2 http://a/x\"y n\"1 - - - - -\n"
	      "3 http://a/qtail n2 - - - - -\n"
	      "BAD line 4: unterminated quoted field\n");
}

static void test_jsonl(void)
{
	CHECK(".jsonl",
	      "{\"url\":\"http://a/1\",\"wnid\":\"n1\",\"license\":\"CC0\",\"other\":[1,2]}\n"
	      "\n"
	      "  \r\n"
	      "[1,2]\n"
	      "\"string\"\n"
	      "{\"url\":\"http://a/2\",\"wnid\":5}\n"
	      "{\"url\":\"http://a/3\"}\n"
	      "{\"url\":\"\",\"wnid\":\"n3\"}\n"
	      "{\"url\":\"http://a/4\",\"wnid\":\"n4\",\"author\":\"\",\"query\":\"q\\u00e9\"}\r\n"
	      "{\"url\":\"http://a/5\",\"wnid\":\"n5\",\"source\":null}\n"
	      "{\"url\":\"http://a/6\",\"wnid\":\"n6\"} trailing\n"
	      "{\"url\":\"http://a/7\",\"wnid\":\"n7\",\"wnid\":\"n8\"}\n"
	      "{\"url\":\"a\\u0000b\",\"wnid\":\"n9\"}\n"
	      "{\"url\":\"http://a/10\",\"wnid\":\"n10\"}",
	      "jsonl",
	      "1 http://a/1 n1 - CC0 - - -\n"
	      "BAD line 4: not a JSON object\n"
	      "BAD line 5: invalid JSON: '[' or '{' expected near '\"string\"'\n"
	      "BAD line 6: 'wnid' is not a string\n"
	      "BAD line 7: missing key 'wnid'\n"
	      "BAD line 8: empty 'url'\n"
	      "9 http://a/4 n4 - - - - q\xc3\xa9\n"
	      "BAD line 10: 'source' is not a string\n"
	      "BAD line 11: invalid JSON: end of file expected near 'trailing'\n"
	      "BAD line 12: invalid JSON: duplicate object key near '\"wnid\"'\n"
	      "BAD line 13: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL near "
	      "'\"a\\u0000b\"'\n"
	      "14 http://a/10 n10 - - - - -\n");
	CHECK(".ndjson", "{\"url\":\"u\",\"wnid\":\"w\"}\n", "jsonl", "1 u w - - - - -\n");
	CHECK(".jsonl", "", "jsonl", "");
	CHECK(".jsonl", "{\"url\":", "jsonl",
	      "BAD line 1: invalid JSON: unexpected token near end of file\n");
}

static void test_bom_and_sniff(void)
{
	CHECK(".tsv", "\xEF\xBB\xBFurl\twnid\nu\tw\n", "tsv", "2 u w - - - - -\n");
	CHECK(".csv", "\xEF\xBB\xBFurl,wnid\r\nu,w\r\n", "csv", "2 u w - - - - -\n");
	CHECK(".jsonl", "\xEF\xBB\xBF{\"url\":\"u\",\"wnid\":\"w\"}\n", "jsonl",
	      "1 u w - - - - -\n");
	/* No known extension: sniffed from the first non-blank line. */
	CHECK("", "\xEF\xBB\xBF\n{\"url\":\"u\",\"wnid\":\"w\"}\n{}\n", "jsonl",
	      "2 u w - - - - -\nBAD line 3: missing key 'url'\n");
	CHECK(".txt", "wnid\turl\nw\tu,v\n", "tsv", "2 u,v w - - - - -\n");
	CHECK(".seeds", "wnid,url\nw,u\tv\n", "csv", "2 u\tv w - - - - -\n");
}

static void test_header_errors(void)
{
	char path[64], fmt[16];
	buf out;
	buf_init(&out, 1 << 16);

	static const struct {
		const char *suffix, *data, *want;
		size_t n; /* 0: strlen(data) */
	} cases[] = {
		{ ".tsv", "url\tpage_url\nu\tp\n", "header has no 'wnid' column", 0 },
		{ ".csv", "wnid,license\n", "header has no 'url' column", 0 },
		{ ".csv", "URL,Wnid,url\n", "line 1: duplicate column 'url'", 0 },
		{ ".tsv", "", "empty file, no header", 0 },
		{ ".csv", "\n\r\n\n", "empty file, no header", 0 },
		{ ".csv", "\"url,wnid\n", "line 1: unterminated quoted field in header", 0 },
		{ ".tsv", "url\tw\0nid\n", "line 1: NUL byte in header", 10 },
		{ "", "", "empty file, no header", 0 },
		{ "", "url;wnid\n", "header has no 'url' column", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&out);
		write_tmp(path, sizeof path, cases[i].suffix, cases[i].data,
		          cases[i].n ? cases[i].n : strlen(cases[i].data));
		T_EQ_INT(transcript(path, &out, fmt, sizeof fmt), NATADV_EFORMAT);
		if (!strstr(buf_cstr(&out), cases[i].want))
			fprintf(stderr, "case %zu: %s", i, buf_cstr(&out));
		T_CHECK(strstr(buf_cstr(&out), cases[i].want) != NULL);
		T_CHECK(strstr(buf_cstr(&out), path) != NULL);
		unlink(path);
	}
	/* Case-insensitive names, spaces around them are fine; header only. */
	CHECK(".csv", " URL , WNID \n", "csv", "");

	seed_reader *r = (seed_reader *)&out;
	char err[128];
	T_EQ_INT(seed_open("/nonexistent/seeds.tsv", &r, err, sizeof err), NATADV_EIO);
	T_CHECK(r == NULL);
	T_CHECK(strstr(err, "cannot open '/nonexistent/seeds.tsv'") != NULL);
	seed_close(NULL);
	buf_release(&out);
}

static void test_long_lines(void)
{
	size_t big = SEED_MAX_LINE + 5000;
	buf in, want;
	buf_init(&in, 1 << 20);
	buf_init(&want, 1 << 20);

	/* TSV: the long line is one bad row, the rows around it are fine. */
	buf_puts(&in, "url\twnid\nhttp://a/1\tn1\nhttp://a/");
	for (size_t i = 0; i < big; i++)
		buf_puts(&in, "x");
	buf_puts(&in, "\tn2\nhttp://a/3\tn3\n");
	check_file(".tsv", in.data, in.len, "tsv",
	           "2 http://a/1 n1 - - - - -\n"
	           "BAD line 3: line longer than 65536 bytes\n"
	           "4 http://a/3 n3 - - - - -\n");

	/* A line of exactly the maximum is still read. */
	buf_reset(&in);
	buf_puts(&in, "url\twnid\n");
	for (size_t i = 0; i < SEED_MAX_LINE - 3; i++)
		buf_puts(&in, "u");
	buf_puts(&in, "\tn1\n");
	buf_reset(&want);
	buf_puts(&want, "2 ");
	for (size_t i = 0; i < SEED_MAX_LINE - 3; i++)
		buf_puts(&want, "u");
	buf_puts(&want, " n1 - - - - -\n");
	check_file(".tsv", in.data, in.len, "tsv", buf_cstr(&want));

	/* CSV: a quoted field that keeps growing over many short lines. */
	buf_reset(&in);
	buf_puts(&in, "url,wnid\nhttp://a/1,\"");
	for (size_t i = 0; i < 20000; i++)
		buf_puts(&in, "abcd\n");
	buf_puts(&in, "\"\nhttp://a/2,n2\n");
	/* After the cap the reader resynchronises at the next line, so the
	 * rest of the runaway field comes out as bad rows, never as a crash
	 * or a fatal error; the closing quote then opens a field that never ends. */
	check_file_ends(".csv", in.data, in.len,
	                "BAD line 2: record longer than 65536 bytes\n"
	                "BAD line 13107: missing column 'wnid'\n",
	                "BAD line 20001: missing column 'wnid'\n"
	                "BAD line 20002: unterminated quoted field\n");

	/* JSONL: long line, then a normal one; no trailing newline at all. */
	buf_reset(&in);
	buf_puts(&in, "{\"url\":\"");
	for (size_t i = 0; i < big; i++)
		buf_puts(&in, "x");
	buf_puts(&in, "\",\"wnid\":\"n\"}\n{\"url\":\"u\",\"wnid\":\"w\"}");
	check_file(".jsonl", in.data, in.len, "jsonl",
	           "BAD line 1: line longer than 65536 bytes\n"
	           "2 u w - - - - -\n");

	/* Sniffing needs the first line, so there it is fatal. */
	check_file_ends("", in.data, in.len, "OPEN 5 '/tmp/natadv-seeds-",
	                "line 1: first line longer than 65536 bytes\n");
	buf_release(&in);
	buf_release(&want);
}

static void test_nul_bytes(void)
{
	static const char data[] = "url\twnid\nhttp://a/\0x\tn1\nhttp://a/2\tn2\n";
	check_file(".tsv", data, sizeof data - 1, "tsv",
	           "BAD line 2: NUL byte in line\n3 http://a/2 n2 - - - - -\n");
}

/* Many rows, so lines straddle the reader's block boundaries. */
static void test_many_rows(void)
{
	char path[64];
	buf in;
	buf_init(&in, 16 << 20);
	buf_puts(&in, "page_url,url,wnid\n");
	for (int i = 0; i < 100000; i++)
		buf_printf(&in, "\"http://p/%d\",http://example.com/img/%d.jpg,n%08d\n", i, i, i);
	write_tmp(path, sizeof path, ".csv", in.data, in.len);
	seed_reader *r = NULL;
	seed_row row;
	char err[128], want[64];
	T_EQ_INT(seed_open(path, &r, err, sizeof err), 0);
	long n = 0, bad = 0;
	int rc;
	for (;;) {
		rc = seed_next(r, &row, err, sizeof err);
		if (rc == 0)
			break;
		if (rc != 1) {
			bad++;
			if (rc != NATADV_EFORMAT)
				break;
			continue;
		}
		snprintf(want, sizeof want, "http://example.com/img/%ld.jpg", n);
		if (strcmp(row.url, want) != 0 || row.line != n + 2)
			bad++;
		n++;
	}
	T_EQ_INT(n, 100000);
	T_EQ_INT(bad, 0);
	/* End of file is sticky. */
	T_EQ_INT(seed_next(r, &row, err, sizeof err), 0);
	seed_close(r);
	unlink(path);
	buf_release(&in);
}

int main(void)
{
	T_RUN(test_tsv);
	T_RUN(test_csv);
	T_RUN(test_jsonl);
	T_RUN(test_bom_and_sniff);
	T_RUN(test_header_errors);
	T_RUN(test_long_lines);
	T_RUN(test_nul_bytes);
	T_RUN(test_many_rows);
	return T_DONE();
}
