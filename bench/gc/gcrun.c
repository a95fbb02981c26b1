/* gcrun: run one benchmark program and measure it from outside.
 *   gcrun TIMEOUT_S -- PROGRAM ARGS...
 * The child gets the same environment and stdout/stderr. Afterwards gcrun
 * prints to stderr one line:
 *   GCRUN wall=S user=S sys=S maxrss_kb=K status=exit:N|signal:N|timeout
 * from wait4's rusage of the child (every thread; peak RSS of the child
 * alone). A small C wrapper, so the child's peak RSS does not start from the
 * high-water mark of a big parent (Linux keeps ru_maxrss across exec). On
 * timeout the child gets SIGKILL. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig) {
    (void)sig;
    timed_out = 1;
    if (child > 0) kill(child, SIGKILL);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: gcrun TIMEOUT_S -- PROGRAM ARGS...\n");
        return 2;
    }
    double timeout = atof(argv[1]);
    double t0 = now();
    child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        execvp(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    if (timeout > 0) {
        struct itimerval it = {{0, 0}, {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e6)}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status = 0;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(child, &status, 0, &ru)) < 0 && errno == EINTR) {}
    double wall = now() - t0;
    if (w < 0) {
        perror("wait4");
        return 1;
    }
    char st[32];
    if (timed_out) snprintf(st, sizeof st, "timeout");
    else if (WIFSIGNALED(status)) snprintf(st, sizeof st, "signal:%d", WTERMSIG(status));
    else snprintf(st, sizeof st, "exit:%d", WEXITSTATUS(status));
    fprintf(stderr, "GCRUN wall=%.6f user=%.6f sys=%.6f maxrss_kb=%ld status=%s\n", wall,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss, st);
    return 0;
}
