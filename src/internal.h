/*
 * internal.h: gort's internal types and cross-file API, layer by layer (each
 * header includes the one below it; see base.h). Never installed.
 *
 * The overview of the allocator (structures, the malloc and free walks) is at
 * the top of malloc.c. Field invariants sit beside the fields below.
 *
 * Lock order: the ranks in lock.h (checked in the debug, ASan and TSan
 * builds), and docs/design.md:
 *
 *     timer -> bg_lock -> gc_lock -> meta_lock -> mcache_list_lock -> every mcache.gc_lock
 *     -> mcentral locks -> mheap.lock -> prof_lock -> persistent_lock -> work_lock
 *
 * mheap.lock guards the page allocator, arena growth, span structs and the
 * heap-wide counters. An mcentral lock guards that class's span lists and the
 * allocation bits of every span on them. A span cached by a thread (owner !=
 * NULL) is changed only by that thread, without locks; other threads reach it
 * only through its atomic remote-free list `xfree`. prof_lock (prof.c, the
 * heap profile) is taken under any of the others but mheap.lock and
 * persistent_lock, never with mheap.lock held except by the fork handler.
 */
#ifndef GORT_INTERNAL_H
#define GORT_INTERNAL_H

#include "base.h"      /* attributes, asserts, locks, geometry, classes, errors, options */
#include "os.h"        /* the OS contract */
#include "arena.h"     /* metadata allocators, arenas, the arena index */
#include "span.h"      /* spans */
#include "pageheap.h"  /* the page heap */
#include "scavenger.h" /* returning pages to the OS */
#include "central.h"   /* central span lists */
#include "mcache.h"    /* thread caches */
#include "collector.h" /* the collector's hooks */
#include "prof.h"      /* the heap profile's hooks */

#endif
