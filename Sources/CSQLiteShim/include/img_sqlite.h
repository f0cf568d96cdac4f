#ifndef IMG_SQLITE_H
#define IMG_SQLITE_H

/// Sets img's databases up on the SQLite connection `db` (a `sqlite3 *`, opened by GRDB): write-ahead log
/// (the mode is stored in the file), synchronous=NORMAL, a checkpoint once the log passes 100 pages, and
/// none when the connection closes, so that a command pays no fsync for the database. Returns 0, or a
/// non-zero SQLite result code (SQLITE_ERROR when the journal mode did not become WAL). In C because
/// `sqlite3_db_config` is variadic, which Swift cannot call; img.db and context-checksums.db share it.
int img_sqlite_use_write_ahead_log(void *db);

#endif
