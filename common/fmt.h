/* fmt.h — number formatting shared by the command line and the release
 * files (README.txt counts "7,500" as the original ImageNet-A does). */
#ifndef NATADV_FMT_H
#define NATADV_FMT_H

#include <stdint.h>

/* Writes n with thousands separators ("-1,234,567") into out and returns
 * out (the caller's buffer, at least 32 bytes). */
const char *fmt_thousands(int64_t n, char out[32]);

#endif
