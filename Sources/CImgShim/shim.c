/* See include/CImgShim.h for why these pieces are C. */
#define _GNU_SOURCE
#include "CImgShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int userns_entered;
static int userns_refused;
static int private_mounts_entered;
static int pid_namespace_entered;
static int fresh_proc_refused;

int img_shim_userns_entered(void) { return userns_entered; }
int img_shim_userns_refused_errno(void) { return userns_refused; }
int img_shim_fresh_proc_refused(void) { return fresh_proc_refused; }
int img_shim_private_mounts_entered(void) { return private_mounts_entered; }
int img_shim_pid_namespace_entered(void) { return pid_namespace_entered; }

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
   the re-executed child asks for it through the environment (`marker`), or (saving that second process
   start) real root runs `img build` or `img unpack`, the commands that mount, and enters it right here. */
static void enter_private_mounts(const char *marker) {
    int direct = marker == NULL;
    if (!direct && strcmp(marker, "1") != 0) return;
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

/* Once the maps are written: root inside, and every mount private. */
static void become_root_inside(int clear_groups) {
    /* We hold every capability in the new namespace as its creator. newgidmap leaves setgroups allowed, so
       the supplementary groups inherited from outside (seen here as the overflow gid) can be cleared; a map
       we wrote ourselves had to deny setgroups first, and they stay. */
    if (setresgid(0, 0, 0) != 0) entry_fail("setresgid(0)");
    if (clear_groups && setgroups(0, NULL) != 0) entry_fail("setgroups");
    if (setresuid(0, 0, 0) != 0) entry_fail("setresuid(0)");
    /* Mounts made for builds must not propagate back to the host's peer groups (and cannot, but the kernel
       would refuse some mounts on shared propagation); private everywhere, recursively. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) entry_fail("make / rprivate");
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
   It runs from the constructor so that it happens before any thread exists: the Swift runtime and libraries
   may start threads before main, and unshare(CLONE_NEWUSER) refuses a multi-threaded caller. */
static void enter_userns_staged(const char *stage) {
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

    become_root_inside(1);
    /* The outer process only waits and forwards signals; if it dies, stop (SIGTERM lets us clean up). Set
       after the credential change, which clears it. The signal follows the *thread* that spawned us; that
       thread stays blocked in img_shim_wait_forwarding_signals until we exit, so it cannot fire early. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) entry_fail("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != original_parent) _exit(IMG_SHIM_ENTRY_FAILED);
    userns_entered = IMG_SHIM_USERNS_STAGED;
}

/* Parses a decimal id as SubordinateIDs.swift does: spaces and tabs around it (and a CR after), digits
   only, at most UINT32_MAX. */
static int parse_id(const char *text, unsigned long *value) {
    while (*text == ' ' || *text == '\t') text++;
    if (*text < '0' || *text > '9') return 0;
    unsigned long result = 0;
    while (*text >= '0' && *text <= '9') {
        result = result * 10 + (unsigned long)(*text - '0');
        if (result > 4294967295UL) return 0;
        text++;
    }
    while (*text == ' ' || *text == '\t' || *text == '\r') text++;
    if (*text != '\0') return 0;
    *value = result;
    return 1;
}

#define MAP_WORDS 48 /* "0 caller 1" and up to 15 subordinate ranges */
#define WORD_SIZE 16

/* The words newuidmap/newgidmap take after the pid for img's map (IDMapping.rootlessMap): 0 -> `caller`,
   then 1, 2, ... -> the ranges `file` gives the user (owner `name` or `uid_text`), in file order, up to 65536
   ids. Returns how many words, or 0 when the user has no range there. */
static int rootless_map(const char *file, const char *name, const char *uid_text, unsigned long caller,
                        char words[MAP_WORDS][WORD_SIZE]) {
    FILE *f = fopen(file, "re");
    if (f == NULL) return 0;
    int n = 0;
    snprintf(words[n++], WORD_SIZE, "0");
    snprintf(words[n++], WORD_SIZE, "%lu", caller);
    snprintf(words[n++], WORD_SIZE, "1");
    unsigned long next = 1, remaining = 65536;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while (remaining > 0 && n + 3 <= MAP_WORDS && (length = getline(&line, &capacity, f)) >= 0) {
        if (length > 0 && line[length - 1] == '\n') line[length - 1] = '\0';
        char *owner = line;
        while (*owner == ' ' || *owner == '\t') owner++;
        if (*owner == '\0' || *owner == '#') continue;
        char *first = strchr(owner, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (second == NULL || strchr(second + 1, ':') != NULL || first == owner) continue;
        *first = '\0';
        *second = '\0';
        if (strcmp(owner, uid_text) != 0 && (name == NULL || strcmp(owner, name) != 0)) continue;
        unsigned long start, count;
        if (!parse_id(first + 1, &start) || !parse_id(second + 1, &count) || count == 0 ||
            start + count > 4294967296UL) continue;
        unsigned long take = count < remaining ? count : remaining;
        snprintf(words[n++], WORD_SIZE, "%lu", next);
        snprintf(words[n++], WORD_SIZE, "%lu", start);
        snprintf(words[n++], WORD_SIZE, "%lu", take);
        next += take;
        remaining -= take;
    }
    free(line);
    fclose(f);
    return n > 3 ? n : 0;
}

/* `name` found in $PATH as ExecutableLookup does (a regular file we may execute), into `out`. */
static int find_executable(const char *name, char *out, size_t size) {
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0') path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t length = end ? (size_t)(end - path) : strlen(path);
        if (length > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)length, path, name) < size) {
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return 1;
        }
        if (end == NULL) break;
        path = end + 1;
    }
    return 0;
}

/* Starts `tool pid words...`; returns its pid, or -1. */
static pid_t start_map_tool(const char *tool, const char *pid, char words[MAP_WORDS][WORD_SIZE], int count) {
    char *argv[MAP_WORDS + 3];
    int n = 0;
    argv[n++] = (char *)tool;
    argv[n++] = (char *)pid;
    for (int i = 0; i < count; i++) argv[n++] = words[i];
    argv[n] = NULL;
    pid_t child = fork();
    if (child == 0) {
        execv(tool, argv);
        _exit(127);
    }
    return child;
}

/* Whether `child` (or -1, a failed start) exited with 0. */
static int succeeded(pid_t child) {
    if (child < 0) return 0;
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Writes all of `text` to `path` (a /proc map file, which takes one write). Returns 0, or -1 with errno. */
static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    if (written == (ssize_t)length) return 0;
    errno = written < 0 ? saved : EIO;
    return -1;
}

/* After an unshare(CLONE_NEWUSER) whose maps nobody else writes: the only map a process may write for itself,
   its own uid and gid as 0 (setgroups must be denied first for the gid map). */
static void map_single_id(uid_t uid, gid_t gid) {
    char map[64];
    if (write_text("/proc/self/setgroups", "deny") != 0) entry_fail("write /proc/self/setgroups");
    snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)uid);
    if (write_text("/proc/self/uid_map", map) != 0) entry_fail("write /proc/self/uid_map");
    snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)gid);
    if (write_text("/proc/self/gid_map", map) != 0) entry_fail("write /proc/self/gid_map");
    become_root_inside(0);
    userns_entered = IMG_SHIM_USERNS_SINGLE;
}

/* Runs in a helper outside the new namespace and writes its maps; returns 0 on success. */
typedef int (*map_writer)(const char *pid, void *context);

/* unshare(CLONE_NEWUSER | CLONE_NEWNS), with a helper forked before it (so that it stays outside, with this
   process's privileges there) writing the maps through `writer`. Returns 1 when entered and mapped; 0 when the
   unshare was refused (the process is untouched, the errno kept for img_shim_userns_refused_errno); -1 when
   the helper failed after the unshare: the process is in a namespace without maps, and only
   map_single_id can still help. */
static int unshare_mapped_by_helper(map_writer writer, void *context) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) return 0;
    char pid[WORD_SIZE];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    pid_t helper = fork();
    if (helper < 0) {
        close(go[0]);
        close(go[1]);
        return 0;
    }
    if (helper == 0) {
        close(go[1]);
        unsigned char byte = 0;
        if (!read_byte(go[0], &byte) || byte != 'g') _exit(1);
        _exit(writer(pid, context) == 0 ? 0 : 1);
    }
    close(go[0]);
    int refused = unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0;
    if (refused) {
        userns_refused = errno;
    } else {
        unsigned char byte = 'g';
        ssize_t written;
        do { written = write(go[1], &byte, 1); } while (written < 0 && errno == EINTR);
    }
    close(go[1]);
    int status = 0;
    while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {}
    if (refused) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
}

struct subordinate_maps {
    const char *newuidmap, *newgidmap;
    char (*uid_words)[WORD_SIZE], (*gid_words)[WORD_SIZE];
    int uid_count, gid_count;
};

static int run_map_tools(const char *pid, void *context) {
    struct subordinate_maps *maps = context;
    /* Both at once: they write different files, and each is a setuid start of its own. */
    pid_t uid_tool = start_map_tool(maps->newuidmap, pid, maps->uid_words, maps->uid_count);
    pid_t gid_tool = start_map_tool(maps->newgidmap, pid, maps->gid_words, maps->gid_count);
    int uid_ok = succeeded(uid_tool);
    int gid_ok = succeeded(gid_tool);
    return uid_ok && gid_ok ? 0 : 1;
}

/* An ordinary user's `img build` enters the user namespace right here, in one process: a
   helper forked before the unshare (so it stays outside, where the setuid newuidmap/newgidmap work) writes
   our maps, then we become root inside. Returns 1 when entered, -1 when the kernel refused the unshare, 0
   when there is nothing to map with (no helper found, no subordinate range): single-id mode's case. Those
   leave this process untouched. */
static int enter_userns_directly(void) {
    char uid_text[WORD_SIZE];
    snprintf(uid_text, sizeof uid_text, "%lu", (unsigned long)getuid());
    char name[256] = "";
    struct passwd *entry = getpwuid(getuid());
    if (entry != NULL && entry->pw_name != NULL) snprintf(name, sizeof name, "%s", entry->pw_name);
    static char newuidmap[4096], newgidmap[4096];
    if (!find_executable("newuidmap", newuidmap, sizeof newuidmap) ||
        !find_executable("newgidmap", newgidmap, sizeof newgidmap)) return 0;
    static char uid_words[MAP_WORDS][WORD_SIZE], gid_words[MAP_WORDS][WORD_SIZE];
    const char *login = name[0] ? name : NULL;
    struct subordinate_maps maps = {newuidmap, newgidmap, uid_words, gid_words, 0, 0};
    maps.uid_count = rootless_map("/etc/subuid", login, uid_text, (unsigned long)getuid(), uid_words);
    maps.gid_count = rootless_map("/etc/subgid", login, uid_text, (unsigned long)getgid(), gid_words);
    if (maps.uid_count == 0 || maps.gid_count == 0) return 0;

    int entered = unshare_mapped_by_helper(run_map_tools, &maps);
    if (entered == 0) return -1;
    /* Past the unshare there is no way back; the maps the user asked for failed, which is theirs to fix. */
    if (entered < 0) {
        fprintf(stderr, "img: entering the user namespace: %s or %s failed: check that they are setuid root "
                        "(reinstall Debian package uidmap) and that /etc/subuid and /etc/subgid ranges do not "
                        "overlap other users'; inside a container (write to uid_map: Operation not permitted) a "
                        "setuid helper lacks CAP_SYS_ADMIN, so give them file capabilities instead: chmod u-s on "
                        "both, setcap cap_setuid+ep %s, setcap cap_setgid+ep %s\n", newuidmap, newgidmap,
                newuidmap, newgidmap);
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    become_root_inside(1);
    userns_entered = IMG_SHIM_USERNS_DIRECT;
    return 1;
}

/* The lines of `own` (this process's /proc/self/uid_map or gid_map: "inside outside count") as a map of the
   same ids onto themselves, for a child namespace: what the parent's ids are stays what they are. */
static int identity_map(const char *own, char *out, size_t size) {
    FILE *f = fopen(own, "re");
    if (f == NULL) return -1;
    size_t used = 0;
    unsigned long inside, outside, count;
    while (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3) {
        /* The whole 32-bit range onto itself is how runc (and img) recognise the initial namespace, where
           runc would then manage cgroups as real root: leave out the last id, which nothing uses. */
        if (inside == 0 && count == 4294967295UL) count--;
        int n = snprintf(out + used, size - used, "%lu %lu %lu\n", inside, inside, count);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
    fclose(f);
    return used > 0 ? 0 : -1;
}

static int write_identity_maps(const char *pid, void *context) {
    (void)context;
    static char map[8192];
    char path[64];
    if (identity_map("/proc/self/uid_map", map, sizeof map) != 0) return 1;
    snprintf(path, sizeof path, "/proc/%s/uid_map", pid);
    if (write_text(path, map) != 0) return 1;
    if (identity_map("/proc/self/gid_map", map, sizeof map) != 0) return 1;
    snprintf(path, sizeof path, "/proc/%s/gid_map", pid);
    return write_text(path, map) != 0;
}

/* Root that may not unshare a mount namespace (no CAP_SYS_ADMIN: a container's root) can still create a user
   namespace and hold every capability there. A helper outside, with root's CAP_SETUID/CAP_SETGID, maps every
   id this root has onto itself, so files keep their owners. Without those capabilities only root itself
   (single-id mode). Returns 1 when entered, 0 when the kernel refused (untouched). */
static int enter_userns_as_root(void) {
    int entered = unshare_mapped_by_helper(write_identity_maps, NULL);
    if (entered == 0) return 0;
    if (entered < 0) {
        map_single_id(0, 0);
        return 1;
    }
    become_root_inside(1);
    userns_entered = IMG_SHIM_USERNS_IDENTITY;
    return 1;
}

/* An ordinary user with nothing to map other ids with (no subordinate range, or no newuidmap): the caller as
   root and no other id, like `unshare -r`. Returns 1 when entered, 0 when refused (untouched). */
static int enter_userns_single(void) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        userns_refused = errno;
        return 0;
    }
    map_single_id(uid, gid);
    return 1;
}

static int enter_pid_namespace(void);

/* Runs before main and before any thread: the one place the namespaces can be entered. */
__attribute__((constructor)) static void img_shim_start(int argc, char **argv, char **envp) {
    (void)envp;
    const char *stage = getenv(IMG_SHIM_USERNS_STAGE_ENV);
    if (stage != NULL) {
        enter_userns_staged(stage);
        enter_pid_namespace();
        return;
    }
    const char *marker = getenv(IMG_SHIM_PRIVATE_MOUNTS_ENV);
    if (marker != NULL) {
        unsetenv(IMG_SHIM_PRIVATE_MOUNTS_ENV);
        if (geteuid() == 0) enter_private_mounts(marker);
        if (private_mounts_entered) enter_pid_namespace();
        return;
    }
    const char *command = img_subcommand(argc, argv);
    if (command == NULL || (strcmp(command, "build") != 0 && strcmp(command, "unpack") != 0)) return;
    if (geteuid() == 0) {
        enter_private_mounts(NULL);
        if (!private_mounts_entered && errno == EPERM && !enter_userns_as_root() && strcmp(command, "build") == 0) {
            fprintf(stderr, "img: this root may not isolate a build: unshare(CLONE_NEWNS): Operation not permitted "
                            "(no CAP_SYS_ADMIN) and unshare(CLONE_NEWUSER): %s; in a container, run img with "
                            "--security-opt seccomp=unconfined --security-opt apparmor=unconfined (Kubernetes: "
                            "securityContext seccompProfile and appArmorProfile type Unconfined)\n",
                    strerror(userns_refused));
            _exit(IMG_SHIM_ENTRY_FAILED);
        }
        if (private_mounts_entered || userns_entered) enter_pid_namespace();
    } else if (strcmp(command, "build") == 0) {
        /* Not `unpack`: it falls back to unpacking as the caller when the namespace cannot be entered, and a
           helper failing after the unshare leaves no way back. */
        if (enter_userns_directly() == 0) enter_userns_single();
        if (userns_entered) enter_pid_namespace();
    }
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

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Sends SIGINT, SIGTERM, SIGHUP and SIGQUIT that this process receives on to `target`. */
static void forward_signals_to(pid_t target) {
    forward_to = target;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) sigaction(forwarded_signals[i], &action, NULL);
}

int img_shim_wait_forwarding_signals(pid_t child) {
    forward_signals_to(child);
    /* Another thread could have these blocked; unblock them here so this thread receives them. */
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) sigaddset(&set, forwarded_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    int status = 0;
    for (;;) {
        pid_t done = waitpid(child, &status, 0);
        if (done == child) return status;
        if (done < 0 && errno == EINTR) continue;
        return -1;
    }
}

/* Ends this process the way `status` (a wait status) says its child ended: the same exit code, or death by
   the same signal, so a shell or a test sees what img did. */
static void pass_status_on(int status) {
    if (WIFSIGNALED(status)) {
        int signo = WTERMSIG(status);
        signal(signo, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, signo);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        kill(getpid(), signo);
        _exit(128 + signo);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : IMG_SHIM_ENTRY_FAILED);
}

/* Pid 1 of img's PID namespace: forwards signals to img (pid 2), reaps whatever is orphaned to it (a
   daemonized fuse-overlayfs, an ssh-agent), and once img has ended reports its wait status on `report` and
   exits, which kills everything still in the namespace. It stays C and single-threaded: as the namespace's
   init it ignores every signal it has no handler for, which img itself must not. */
static void run_init(pid_t img, int report) {
    forward_signals_to(img);
    int status = 0;
    for (;;) {
        int any = 0;
        pid_t done = waitpid(-1, &any, 0);
        if (done == img) {
            status = any;
            break;
        }
        if (done < 0 && errno != EINTR) {
            status = IMG_SHIM_ENTRY_FAILED << 8;
            break;
        }
    }
    ssize_t written;
    do { written = write(report, &status, sizeof status); } while (written < 0 && errno == EINTR);
    _exit(0);
}

/* Whether a new PID namespace can have its own /proc. A container runtime that masks parts of the outer /proc
   (docker's default, Kubernetes' procMount Default) makes the kernel refuse it in a user namespace, and then
   neither img nor a RUN step can have a PID namespace. A child tries, in a mount namespace of its own, so
   nothing here changes. The answer comes over a pipe as soon as the mount is tried, without waiting for the
   probe's namespaces to be torn down: about a millisecond, against four when waiting, so it is asked every
   time rather than remembered in a file that another process could plant or a restarted container outlive. */
static int fresh_proc_mountable(void) {
    int answer[2];
    if (pipe2(answer, O_CLOEXEC) != 0) return 0;
    pid_t probe = fork();
    if (probe < 0) {
        close(answer[0]);
        close(answer[1]);
        return 0;
    }
    if (probe == 0) {
        close(answer[0]);
        if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) _exit(1);
        /* The PID namespace's first process; the probe itself leaves at once. */
        if (fork() == 0) {
            unsigned char byte = mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0 ? 'y' : 'n';
            ssize_t written;
            do { written = write(answer[1], &byte, 1); } while (written < 0 && errno == EINTR);
            _exit(0);
        }
        _exit(0);
    }
    close(answer[1]);
    unsigned char byte = 0;
    int mountable = read_byte(answer[0], &byte) && byte == 'y';
    close(answer[0]);
    while (waitpid(probe, NULL, 0) < 0 && errno == EINTR) {}
    return mountable;
}

/* Puts img in a PID namespace of its own, so that nothing it starts can outlive it, however it dies: this
   process stays outside and only waits (the pid callers know), its child is the namespace's init with
   PR_SET_PDEATHSIG(SIGKILL), and img itself continues into main as pid 2. A kill -9 of this process kills
   init, and the kernel then kills every process in the namespace, runc's containers (whose PID namespaces
   are nested in it) and fuse-overlayfs daemons included. /proc is mounted afresh for the namespace (the
   mount namespace is already private): runc reads /proc/<pid> of the pids it sees. A refused unshare leaves
   img as it was, without that guarantee. Returns only in img (or when refused). */
static int enter_pid_namespace(void) {
    if (!fresh_proc_mountable()) {
        fresh_proc_refused = 1;
        return 0;
    }
    int alive[2], report[2];
    if (pipe2(alive, O_CLOEXEC) != 0) return 0;
    if (pipe2(report, O_CLOEXEC) != 0) {
        close(alive[0]);
        close(alive[1]);
        return 0;
    }
    if (unshare(CLONE_NEWPID) != 0) {
        close(alive[0]);
        close(alive[1]);
        close(report[0]);
        close(report[1]);
        return 0;
    }
    pid_t init = fork();
    if (init < 0) {
        fprintf(stderr, "img: entering a PID namespace: fork: %s\n", strerror(errno));
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    if (init > 0) {
        /* Every child this process could still start would land in the namespace: it starts none. */
        close(alive[0]);
        close(report[1]);
        int status = img_shim_wait_forwarding_signals(init);
        int reported = 0;
        ssize_t got;
        do { got = read(report[0], &reported, sizeof reported); } while (got < 0 && errno == EINTR);
        pass_status_on(got == (ssize_t)sizeof reported ? reported : status);
    }
    close(alive[1]);
    close(report[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(IMG_SHIM_ENTRY_FAILED);
    /* The waiter may have died before the prctl; then its end of `alive` is closed already. */
    struct pollfd waiter = {alive[0], POLLIN, 0};
    if (poll(&waiter, 1, 0) != 0) _exit(IMG_SHIM_ENTRY_FAILED);
    close(alive[0]);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        fprintf(stderr, "img: entering a PID namespace: mount /proc: %s\n", strerror(errno));
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    pid_t img = fork();
    if (img < 0) {
        fprintf(stderr, "img: entering a PID namespace: fork: %s\n", strerror(errno));
        _exit(IMG_SHIM_ENTRY_FAILED);
    }
    if (img > 0) run_init(img, report[1]);
    close(report[1]);
    pid_namespace_entered = 1;
    return 1;
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

struct mount_in_directory {
    const char *directory, *source, *target, *fstype, *data;
    unsigned long flags;
};

static int mount_in_directory_child(void *argument) {
    const struct mount_in_directory *request = argument;
    if (chdir(request->directory) != 0) _exit(errno & 0xff);
    if (mount(request->source, request->target, request->fstype, request->flags, request->data) != 0) _exit(errno & 0xff);
    _exit(0);
}

int img_shim_mount_in_directory(const char *directory, const char *source, const char *target, const char *fstype,
                                unsigned long flags, const char *data) {
    /* The child shares our memory and runs on this frame's buffer while we wait (CLONE_VM | CLONE_VFORK, as
       posix_spawn does), but not our working directory (no CLONE_FS): a fork() would copy the page tables
       of a large process and leave every page it writes afterwards to fault once more. Signals stay blocked
       in the child, which only calls chdir, mount and _exit. */
    struct mount_in_directory request = {directory, source, target, fstype, data, flags};
    enum { stack_size = 32 * 1024 };
    char stack[stack_size] __attribute__((aligned(16)));
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = clone(mount_in_directory_child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (child < 0) return clone_error;
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
