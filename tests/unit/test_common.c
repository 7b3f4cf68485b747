/* test_common.c — the shared helpers of common/: JSON strings of outside
 * text (jstr), identifier checks (text), thousands, the capped buffer. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fmt.h"
#include "common/jstr.h"
#include "common/text.h"
#include "tests/t.h"

/* The JSON text of v (compact, ASCII kept as is), freed by the caller. */
static char *dump(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(v);
	return s;
}

static void check_dump(json_t *v, const char *want)
{
	char *s = dump(v);
	T_EQ_STR(s, want);
	free(s);
}

static void test_jstr_new(void)
{
	check_dump(jstr_new(NULL), "null");
	check_dump(jstr_new(""), "\"\"");
	check_dump(jstr_new("caf\xc3\xa9 \"q\""), "\"caf\xc3\xa9 \\\"q\\\"\"");
	/* every byte that is not part of valid UTF-8 becomes U+FFFD, valid ones stay */
	check_dump(jstr_new("a\xff" "b\xc3\xa9"), "\"a\xef\xbf\xbd" "b\xc3\xa9\"");
	check_dump(jstr_new("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");          /* overlong */
	check_dump(jstr_new("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
	/* a sequence cut by the length is not read past it */
	check_dump(jstr_newn("x\xe2\x82\xac", 3), "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
	check_dump(jstr_newn("x\xe2\x82\xac", 4), "\"x\xe2\x82\xac\"");
	/* NUL bytes inside the length are kept */
	check_dump(jstr_newn("a\0b\xff", 4), "\"a\\u0000b\xef\xbf\xbd\"");
}

static void test_text(void)
{
	T_EQ_INT(text_is_hex("0123456789abcdef", 16), 1);
	T_EQ_INT(text_is_hex("0123456789abcdef", 15), 0);
	T_EQ_INT(text_is_hex("0123456789abcdeF", 16), 0);
	T_EQ_INT(text_is_hex("0123456789abcdeg", 16), 0);
	T_EQ_INT(text_is_hex("", 0), 1);
	T_EQ_INT(text_is_wnid("n01498041"), 1);
	T_EQ_INT(text_is_wnid("n0149804"), 0);
	T_EQ_INT(text_is_wnid("n014980411"), 0);
	T_EQ_INT(text_is_wnid("x01498041"), 0);
	T_EQ_INT(text_is_wnid("n0149804a"), 0);
	T_EQ_INT(text_is_wnid(""), 0);
}

static void test_fmt(void)
{
	char out[32];
	T_EQ_STR(fmt_thousands(0, out), "0");
	T_EQ_STR(fmt_thousands(7500, out), "7,500");
	T_EQ_STR(fmt_thousands(-1234567, out), "-1,234,567");
	T_EQ_STR(fmt_thousands(INT64_MIN, out), "-9,223,372,036,854,775,808");
}

int main(void)
{
	T_RUN(test_jstr_new);
	T_RUN(test_text);
	T_RUN(test_fmt);
	return T_DONE();
}
