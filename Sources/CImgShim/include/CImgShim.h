#ifndef CIMGSHIM_H
#define CIMGSHIM_H
/* C start-up shim for img. It holds only what cannot be written in Swift:
   - user-namespace entry, which must happen before the Swift runtime (or anything else) starts a thread,
     because unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded process;
   - a signal-forwarding wait loop, whose handler must be async-signal-safe;
   - openat2(RESOLVE_IN_ROOT), which glibc 2.36 does not wrap, and pipe2, which Swift's Glibc module hides
     (it is a _GNU_SOURCE declaration). */
#include <sys/types.h>

/* The environment variable that arms the constructor: "<fd to parent>,<fd from parent>". Set only by
   UserNamespace.swift when it re-executes /proc/self/exe; every other process leaves the shim inert. */
#define IMG_SHIM_USERNS_STAGE_ENV "_IMG_USERNS_STAGE"

/* Exit status of a child that could not finish entering the namespace after the parent mapped its ids. */
#define IMG_SHIM_ENTRY_FAILED 125

/* 1 if this process entered the user namespace through the constructor, else 0. */
int img_shim_userns_entered(void);

/* Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to `child` while waiting for it; returns its wait status
   (as from waitpid), or -1 with errno set. */
int img_shim_wait_forwarding_signals(pid_t child);

/* openat2(dirfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `path` and every
   symlink met on the way resolve as if `dirfd` were "/". Returns the fd, or -1 with errno set. */
int img_shim_open_in_root(int dirfd, const char *path, int flags, unsigned int mode);

/* O_PATH (a _GNU_SOURCE name Swift cannot see): an fd that only names a path, for *at() calls. */
#define IMG_SHIM_O_PATH 010000000

/* pipe2(fds, O_CLOEXEC): both ends close on exec, so no other child inherits them. */
int img_shim_pipe_cloexec(int fds[2]);

#endif
