/* scavenger.h: returning idle free pages to the OS (scavenger.c). */
#ifndef GORT_SCAVENGER_H
#define GORT_SCAVENGER_H

#include "pageheap.h"

/* ---- scavenger (scavenger.c) ---- */
/* Starts the background scavenger once (no-op when disabled or running).
 * Only where the caller holds no allocator lock: creating a thread allocates. */
GORT_HIDDEN void gort__scavenger_start(void);
/* The page heap's hooks: before a span allocation takes mheap.lock (no lock
 * held), and after a span free (mheap.lock held). They run the scavenger's
 * periods inline when no thread does, and start the thread when wanted. */
GORT_HIDDEN void gort__scavenge_on_alloc(void);
/* Starts the thread if wanted; only where no lock at all is held. */
GORT_HIDDEN void gort__scavenger_poll(void);
GORT_HIDDEN void gort__scavenge_on_free_locked(void);
/* Aborts with msg if this thread holds mheap.lock, an mcentral lock or the
 * mcache list lock (before anything that may call back into malloc). */
GORT_HIDDEN void gort__assert_no_locks(const char *msg);
GORT_HIDDEN void gort__scavenger_after_fork_child(void);

#endif
