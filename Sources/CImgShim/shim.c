/* See include/CImgShim.h for why these pieces are C. */
#define _GNU_SOURCE
#include "CImgShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int userns_entered;
static int private_mounts_entered;

int img_shim_userns_entered(void) { return userns_entered; }
int img_shim_private_mounts_entered(void) { return private_mounts_entered; }

/* The subcommand of an `img` command line, skipping global flags and the values of those that take one;
   NULL when argv[0] is not `img` (a test bundle linking this shim must never act on its arguments). */
static const char *img_subcommand(int argc, char **argv) {
    if (argc < 2 || argv == NULL || argv[0] == NULL) return NULL;
    const char *slash = strrchr(argv[0], '/');
    if (strcmp(slash ? slash + 1 : argv[0], "img") != 0) return NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-s") == 0 || strcmp(arg, "--state") == 0 || strcmp(arg, "-b") == 0 ||
            strcmp(arg, "--backend") == 0) {
            i++;
            continue;
        }
        if (arg[0] == '-') continue;
        return arg;
    }
    return NULL;
}

/* Real root's half: a private mount namespace, entered before any thread exists (see the header). Either
   the re-executed child asks for it through the environment, or (saving that second process start) real
   root runs `img build` or `img unpack`, the commands that mount, and enters it right here. */
__attribute__((constructor)) static void img_shim_enter_private_mounts(int argc, char **argv, char **envp) {
    (void)envp;
    const char *marker = getenv(IMG_SHIM_PRIVATE_MOUNTS_ENV);
    int direct = 0;
    if (marker == NULL) {
        const char *command = img_subcommand(argc, argv);
        if (command == NULL || geteuid() != 0 || getenv(IMG_SHIM_USERNS_STAGE_ENV) != NULL) return;
        if (strcmp(command, "build") != 0 && strcmp(command, "unpack") != 0) return;
        direct = 1;
    } else {
        unsetenv(IMG_SHIM_PRIVATE_MOUNTS_ENV);
        if (strcmp(marker, "1") != 0 || geteuid() != 0) return;
    }
    if (unshare(CLONE_NEWNS) != 0) {
        /* Directly, a refusal (a container without CAP_SYS_ADMIN) is left to the re-exec path to report. */
        if (direct) return;
        fprintf(stderr, "img: entering a private mount namespace: unshare(CLONE_NEWNS): %s\n", strerror(errno));
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    /* Without this, mounts would still propagate to the host's shared peer group. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "img: entering a private mount namespace: make / rprivate: %s\n", strerror(errno));
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    /* The outer process only forwards signals; if it dies, stop too. */
    if (!direct) prctl(PR_SET_PDEATHSIG, SIGTERM);
    private_mounts_entered = 1;
}

static void entry_fail(const char *step) {
    /* One line, then out: the parent passes our status on. */
    fprintf(stderr, "img: entering the user namespace: %s: %s\n", step, strerror(errno));
    _exit(IMG_SHIM_ENTRY_FAILED);
}

/* Reads exactly one byte, retrying on EINTR. Returns 1 on success, 0 on EOF or error. */
static int read_byte(int fd, unsigned char *byte) {
    for (;;) {
        ssize_t n = read(fd, byte, 1);
        if (n == 1) return 1;
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
}

/* The child half of the entry protocol (the parent half is UserNamespace.swift):
     child: unshare(USER|NS)  -> writes its errno (0 on success) as an int to the parent
     parent: newuidmap/newgidmap on the child's pid -> writes one byte 'g' back (EOF means: give up)
     child: becomes uid/gid 0, drops supplementary groups, makes every mount private, and returns into main.
   It runs as a constructor so that it happens before any thread exists: the Swift runtime and libraries
   may start threads before main, and unshare(CLONE_NEWUSER) refuses a multi-threaded caller. */
__attribute__((constructor)) static void img_shim_enter_userns(void) {
    const char *stage = getenv(IMG_SHIM_USERNS_STAGE_ENV);
    if (stage == NULL) return;
    int to_parent = -1, from_parent = -1;
    if (sscanf(stage, "%d,%d", &to_parent, &from_parent) != 2 || to_parent < 0 || from_parent < 0) {
        fprintf(stderr, "img: malformed %s=%s\n", IMG_SHIM_USERNS_STAGE_ENV, stage);
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    /* Children of this process (runc, shells) must not see the marker and act on it again. */
    unsetenv(IMG_SHIM_USERNS_STAGE_ENV);
    pid_t original_parent = getppid();

    int error = unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 ? 0 : errno;
    ssize_t written;
    do { written = write(to_parent, &error, sizeof error); } while (written < 0 && errno == EINTR);
    /* The parent explains a failed unshare (it knows the user's fix); we just leave. */
    if (error != 0 || written != (ssize_t)sizeof error) _exit(IMG_SHIM_ENTRY_FAILED);

    unsigned char go = 0;
    if (!read_byte(from_parent, &go) || go != 'g') _exit(IMG_SHIM_ENTRY_FAILED);
    close(to_parent);
    close(from_parent);

    /* We hold every capability in the new namespace as its creator. newgidmap leaves setgroups allowed, so
       the supplementary groups inherited from outside (seen here as the overflow gid) can be cleared. */
    if (setresgid(0, 0, 0) != 0) entry_fail("setresgid(0)");
    if (setgroups(0, NULL) != 0) entry_fail("setgroups");
    if (setresuid(0, 0, 0) != 0) entry_fail("setresuid(0)");
    /* Mounts made for builds must not propagate back to the host's peer groups (and cannot, but the kernel
       would refuse some mounts on shared propagation); private everywhere, recursively. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) entry_fail("make / rprivate");
    /* The outer process only waits and forwards signals; if it dies, stop (SIGTERM lets us clean up). Set
       after the credential change, which clears it. The signal follows the *thread* that spawned us; that
       thread stays blocked in img_shim_wait_forwarding_signals until we exit, so it cannot fire early. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) entry_fail("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != original_parent) _exit(IMG_SHIM_ENTRY_FAILED);
    userns_entered = 1;
}

static volatile sig_atomic_t forward_to;

/* Signals a process sent (kill, systemd, a test) go on to the child. Signals the terminal sent (Ctrl-C,
   si_code SI_KERNEL) already reached the child, which is in the same foreground process group: sending
   them again would look like a second Ctrl-C. */
static void forward_signal(int signo, siginfo_t *info, void *context) {
    (void)context;
    pid_t child = (pid_t)forward_to;
    if (child > 0 && info != NULL && info->si_code <= 0) kill(child, signo);
}

int img_shim_wait_forwarding_signals(pid_t child) {
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    forward_to = child;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &action, NULL);
    /* Another thread could have these blocked; unblock them here so this thread receives them. */
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&set, forwarded[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    int status = 0;
    for (;;) {
        pid_t done = waitpid(child, &status, 0);
        if (done == child) return status;
        if (done < 0 && errno == EINTR) continue;
        return -1;
    }
}

int img_shim_open_in_root(int dirfd, const char *path, int flags, unsigned int mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd;
    do { fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (fd < 0 && errno == EINTR);
    return (int)fd;
}

int img_shim_mount_in_directory(const char *directory, const char *source, const char *target, const char *fstype,
                                unsigned long flags, const char *data) {
    pid_t child = fork();
    if (child < 0) return errno;
    if (child == 0) {
        /* Only async-signal-safe calls here: the parent may have had other threads. */
        if (chdir(directory) != 0) _exit(errno & 0xff);
        if (mount(source, target, fstype, flags, data) != 0) _exit(errno & 0xff);
        _exit(0);
    }
    int status = 0;
    for (;;) {
        if (waitpid(child, &status, 0) == child) break;
        if (errno != EINTR) return errno;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return EINTR;
}

long img_shim_copy_file_range(int in_fd, int out_fd, unsigned long length) {
    return (long)copy_file_range(in_fd, NULL, out_fd, NULL, (size_t)length, 0);
}

int img_shim_ficlone(int destination_fd, int source_fd) { return ioctl(destination_fd, FICLONE, source_fd); }

int img_shim_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int img_shim_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

_Static_assert(IMG_SHIM_O_PATH == O_PATH, "IMG_SHIM_O_PATH must be this platform's O_PATH");
