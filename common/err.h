/* err.h — the one error enum of natadv and its message table.
 * Modules return these codes; a detail message, when there is one, lives on
 * the module's handle (store_errmsg, crawl_errmsg, ...), like sqlite3_errmsg. */
#ifndef NATADV_ERR_H
#define NATADV_ERR_H

typedef enum natadv_err {
	NATADV_OK = 0,
	NATADV_ENOMEM = 1,     /* out of memory */
	NATADV_EIO = 2,        /* file system error */
	NATADV_EDB = 3,        /* database error */
	NATADV_EINVAL = 4,     /* bad argument or input */
	NATADV_EFORMAT = 5,    /* data is not in the expected format */
	NATADV_ENOTFOUND = 6,  /* the named thing does not exist */
	NATADV_ETOOBIG = 7,    /* a hard size limit was reached */
	NATADV_ENET = 8,       /* network error */
	NATADV_EINTR = 9,      /* stopped by a signal */
	NATADV_EEXIST = 10,    /* the thing already exists */
	NATADV_ESCHEMA = 11,   /* the database schema is newer than this program */
} natadv_err;

/* Returns a static, lower-case description of code; never NULL. */
const char *natadv_strerror(int code);

#include <stddef.h>

/* Formats a detail message into the caller's err buffer (errlen bytes);
 * does nothing when err is NULL or errlen is 0. */
void natadv_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
