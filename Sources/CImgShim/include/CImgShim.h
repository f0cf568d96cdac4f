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
   UserNamespace.swift when it re-executes /proc/self/exe. An ordinary user running `img build` needs no
   re-exec: the constructor reads the subcommand from argv, finds the user's
   /etc/subuid and /etc/subgid ranges and enters the namespace itself (a forked helper runs
   newuidmap/newgidmap), or leaves the process untouched for the re-exec path to explain what is missing.
   Every other process leaves the shim inert. */
#define IMG_SHIM_USERNS_STAGE_ENV "_IMG_USERNS_STAGE"

/* The environment variable that asks the constructor, in a process running as real root, to move into a
   private mount namespace ("1"). Set only by UserNamespace.swift when it re-executes /proc/self/exe, so
   that build mounts never show on the host; unshare(CLONE_NEWNS) after threads exist would move only the
   calling thread. Real root running `img build` or `img unpack` gets the same directly, without the
   re-exec: the constructor reads the subcommand from argv. */
#define IMG_SHIM_PRIVATE_MOUNTS_ENV "_IMG_PRIVATE_MOUNTS"

/* Exit status of a child that could not finish entering the namespace after the parent mapped its ids. */
#define IMG_SHIM_ENTRY_FAILED 125

/* How this process entered img's user namespace: 0 not at all, else one of these. */
#define IMG_SHIM_USERNS_STAGED 1   /* after a re-exec, ids mapped by newuidmap/newgidmap */
#define IMG_SHIM_USERNS_DIRECT 2   /* at start-up, ids mapped by newuidmap/newgidmap (no re-exec) */
#define IMG_SHIM_USERNS_IDENTITY 3 /* root without CAP_SYS_ADMIN (a container): its own ids mapped to themselves */
#define IMG_SHIM_USERNS_SINGLE 4   /* only the caller's uid and gid, as 0 (no subordinate range, or no helpers) */
int img_shim_userns_entered(void);

/* The errno of the unshare(CLONE_NEWUSER) the constructor tried and was refused (docker's default seccomp
   profile, a sysctl), else 0. */
int img_shim_userns_refused_errno(void);

/* 1 when the constructor found that a fresh /proc cannot be mounted in a new PID namespace (a container
   runtime masks parts of the outer /proc): img then has no PID namespace of its own and RUN steps must share
   img's, with the outer /proc bound in. Else 0. */
int img_shim_fresh_proc_refused(void);

/* 1 if this process moved into a private mount namespace through the constructor, else 0. */
int img_shim_private_mounts_entered(void);

/* 1 if this process is img running as pid 2 of a PID namespace of its own (see shim.c), else 0. */
int img_shim_pid_namespace_entered(void);

/* mount(2) run by a forked child whose working directory is `directory`, so that relative paths in `data`
   (overlayfs lowerdir lists, which must fit in one page) resolve there without changing this process's
   working directory, which every thread shares. Returns 0, or the errno of chdir or mount. */
int img_shim_mount_in_directory(const char *directory, const char *source, const char *target, const char *fstype,
                                unsigned long flags, const char *data);

/* copy_file_range(2) and the FICLONE ioctl, which Swift's Glibc module does not show (_GNU_SOURCE). */
long img_shim_copy_file_range(int in_fd, int out_fd, unsigned long length);
int img_shim_ficlone(int destination_fd, int source_fd);

/* sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE), also hidden by _GNU_SOURCE: starts writeback of
   the range without waiting for it. Returns 0, or -1 with errno set. */
int img_shim_start_writeback(int fd, long long offset, long long length);

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
