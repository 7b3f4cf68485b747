/* ws_sql.h — running SQL straight on a test workspace's database, for the
 * tests that damage or adjust a part behind natadv's back. */
#ifndef NATADV_TESTS_WS_SQL_H
#define NATADV_TESTS_WS_SQL_H

#include <sqlite3.h>
#include <stdio.h>

#include "tests/t.h"

/* Runs sql on the workspace database at dir (its own connection, foreign
 * keys off as SQLite's default); a failure is a failed check. */
static inline void ws_exec(const char *dir, const char *sql)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	sqlite3 *db = NULL;
	T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

#endif
