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
#endif
