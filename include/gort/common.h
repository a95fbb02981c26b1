/* gort/common.h: what every public header needs: the version, and the
 * attribute macros the declarations use. Each header under gort/ includes
 * it and stands on its own; include <gort.h> rather than this file. */
#ifndef GORT_COMMON_H
#define GORT_COMMON_H

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/* GORT_API marks the library's exported functions and variables (it is built
 * with -fvisibility=hidden); GORT_MALLOC_ATTR the allocating functions. */
#if defined(__GNUC__)
#define GORT_API __attribute__((visibility("default")))
#define GORT_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define GORT_API
#define GORT_MALLOC_ATTR
#endif

#endif
