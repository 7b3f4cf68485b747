/* t.h — the tiny unit-test harness: each tests/unit/test_*.c is one binary
 * whose main() calls T_RUN(fn) for each case and returns T_DONE().
 * A failed check prints file:line and the expression and fails the case. */
#ifndef NATADV_T_H
#define NATADV_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks, t_cases, t_cases_failed;

#define T_CHECK(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define T_EQ_INT(a, b)                                                         \
	do {                                                                   \
		long long t_a = (long long)(a), t_b = (long long)(b);          \
		if (t_a != t_b) {                                              \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",  \
			        __FILE__, __LINE__, #a, t_a, t_b);             \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define T_EQ_STR(a, b)                                                         \
	do {                                                                   \
		const char *t_a = (a), *t_b = (b);                             \
		if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                   \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
			        __FILE__, __LINE__, #a, t_a ? t_a : "(null)",  \
			        t_b ? t_b : "(null)");                         \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define T_RUN(fn)                                                              \
	do {                                                                   \
		int t_before = t_failed_checks;                                \
		t_cases++;                                                     \
		fn();                                                          \
		if (t_failed_checks != t_before) {                             \
			t_cases_failed++;                                      \
			fprintf(stderr, "FAIL %s\n", #fn);                     \
		}                                                              \
	} while (0)

/* Prints "N passed, N failed" for this binary and returns its exit status. */
#define T_DONE()                                                               \
	(printf("%d passed, %d failed\n", t_cases - t_cases_failed,            \
	        t_cases_failed),                                               \
	 t_cases_failed ? 1 : 0)

#endif
