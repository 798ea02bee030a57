#ifndef PROJECTOR_CLIBPQ_SHIM_H
#define PROJECTOR_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
