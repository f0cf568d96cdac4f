#include <sqlite3.h>
#include <string.h>
#include "img_sqlite.h"

int img_sqlite_use_write_ahead_log(void *connection) {
    sqlite3 *db = connection;
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &statement, NULL);
    if (rc != SQLITE_OK) return rc;
    int wal = 0;
    if (sqlite3_step(statement) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(statement, 0);
        wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    }
    sqlite3_finalize(statement);
    if (!wal) return SQLITE_ERROR;
    rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 100", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    /* A failure here would only bring the checkpoint at close back. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
    return SQLITE_OK;
}
