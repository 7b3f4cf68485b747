/* t.h — the tiny unit-test harness: each tests/unit/test_*.c is one binary
 * whose main() calls T_RUN(fn) for each case and returns T_DONE().
 * A failed check prints file:line and the expression and fails the case;
 * any failed check, also one outside a case, fails the binary, and so does
 * a binary that made no check at all. */
#ifndef NATADV_T_H
#define NATADV_T_H

#include <stdio.h>
#include <string.h>

static int t_checks, t_failed_checks, t_cases, t_cases_failed;

#define T_CHECK(cond)                                                          \
	do {                                                                   \
		t_checks++;                                                    \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define T_EQ_INT(a, b)                                                         \
	do {                                                                   \
		t_checks++;                                                    \
		long long t_a = (long long)(a), t_b = (long long)(b);          \
		if (t_a != t_b) {                                              \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",  \
			        __FILE__, __LINE__, #a, t_a, t_b);             \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define T_EQ_STR(a, b)                                                         \
	do {                                                                   \
		t_checks++;                                                    \
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

/* Prints "N passed, N failed" for this binary and returns its exit status:
 * 1 when any check failed (in a case or outside one) or none was made. */
#define T_DONE()                                                               \
	(printf("%d passed, %d failed (%d checks, %d failed)\n",              \
	        t_cases - t_cases_failed, t_cases_failed, t_checks,            \
	        t_failed_checks),                                              \
	 t_checks == 0 ? (fprintf(stderr, "no check was made\n"), 1)           \
	               : t_failed_checks || t_cases_failed ? 1 : 0)

#endif
