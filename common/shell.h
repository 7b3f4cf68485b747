/* shell.h — quoting text so that a POSIX shell reads it back as the same
 * single word: the command lines recorded in runs and the scripts written
 * for a batch scheduler. */
#ifndef NATADV_SHELL_H
#define NATADV_SHELL_H

#include "common/buf.h"

/* Appends s to out as one shell word: as it is when it holds only
 * characters no shell treats specially, else in single quotes with each
 * ' written as '\''. The empty string gives ''. Returns 0 or buf_append's
 * NATADV_ETOOBIG / NATADV_ENOMEM. */
int shell_quote(const char *s, buf *out);

#endif
