#ifndef PROJECTOR_CSQLITE_SHIM_H
#define PROJECTOR_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro over a cast that Swift cannot import.
static inline sqlite3_destructor_type projector_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

static inline sqlite3_destructor_type projector_sqlite_static(void) {
    return SQLITE_STATIC;
}
/// Turns off SQLite's memory statistics, which take a global mutex around every allocation;
/// projector never reads them. Call before SQLite is first used (sqlite3_config is variadic, which
/// Swift cannot call). Returns SQLITE_MISUSE, harmlessly, when SQLite is already initialized.
static inline int projector_sqlite_configure(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
#endif
