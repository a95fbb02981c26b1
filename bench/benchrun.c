/* benchrun: run one benchmark command and report its wall time and peak RSS.
 *   benchrun [-p PRELOAD.so] [-T TIMEOUT_S] [-o STDOUT_FILE] -- PROGRAM ARGS...
 * LD_PRELOAD is set for the child only.  The child's stdout passes through
 * (or goes to STDOUT_FILE); afterwards benchrun prints one line:
 *   BENCHRUN wall=SECS maxrss_kb=KB status=exit:N|signal:N|timeout
 * Peak RSS comes from wait4's rusage (ru_maxrss of the child alone). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig) {
    (void)sig;
    timed_out = 1;
    if (child > 0) kill(child, SIGKILL);
}

int main(int argc, char **argv) {
    const char *preload = NULL, *outfile = NULL;
    double timeout = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (i + 1 >= argc) goto usage;
        if (!strcmp(argv[i], "-p")) preload = argv[++i];
        else if (!strcmp(argv[i], "-T")) timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "-o")) outfile = argv[++i];
        else goto usage;
    }
    if (i >= argc) goto usage;

    fflush(stdout);
    double t0 = now();
    child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        if (preload && *preload) setenv("LD_PRELOAD", preload, 1);
        if (outfile) {
            int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0) {
                perror(outfile);
                _exit(127);
            }
            close(fd);
        }
        execvp(argv[i], argv + i);
        perror(argv[i]);
        _exit(127);
    }
    if (timeout > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 0}, {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e6)}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status = 0;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(child, &status, 0, &ru)) < 0 && errno == EINTR) {}
    double t1 = now();
    if (w < 0) {
        perror("wait4");
        return 1;
    }
    char st[64];
    if (timed_out) snprintf(st, sizeof st, "timeout");
    else if (WIFEXITED(status)) snprintf(st, sizeof st, "exit:%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(st, sizeof st, "signal:%d", WTERMSIG(status));
    else snprintf(st, sizeof st, "unknown");
    printf("BENCHRUN wall=%.6f maxrss_kb=%ld status=%s\n", t1 - t0, ru.ru_maxrss, st);
    return 0;
usage:
    fprintf(stderr, "usage: %s [-p PRELOAD.so] [-T TIMEOUT_S] [-o STDOUT_FILE] -- PROGRAM ARGS...\n", argv[0]);
    return 2;
}
