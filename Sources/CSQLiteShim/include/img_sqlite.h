#ifndef IMG_SQLITE_H
#define IMG_SQLITE_H

/// Tells the SQLite connection `db` (a `sqlite3 *`) not to checkpoint its write-ahead log when it closes.
/// Returns SQLite's result code (0 when it took). `sqlite3_db_config` is variadic, which Swift cannot call.
int img_sqlite_skip_checkpoint_on_close(void *db);

#endif
