/* examples/chan.c: the README's channel and slice example, as a program. */
#include <stdio.h>
#include <gort.h>

GORT_TYPE_NOPTR(int);
GORT_SLICE_DEFINE(ints, int)

int main(void) {
    gort_chan *c = gort_chan_make(sizeof(int), 16);
    gort_chan_send(c, &(int){42});
    int v;
    bool ok = gort_chan_recv(c, &v);
    gort_select_case cs[2] = {{.c = c, .dir = GORT_SELECT_RECV, .elem = &v},
                              {.c = gort_after(1000000), .dir = GORT_SELECT_RECV}};
    int i = gort_select(cs, 2, true); /* nothing to receive on c: the timeout */
    gort_chan_close(c);

    ints s = {0};
    for (int k = 0; k < 100; k++) s = ints_append(s, k);
    ints t = ints_slice(s, 10, 20);
    int x = ints_get(t, 3);
    printf("received %d (ok %d), select case %d, t[3] = %d, len %zu cap %zu\n", v, ok, i, x, t.len, t.cap);
    return !(ok && i == 1 && x == 13 && t.len == 10 && t.cap == 118);
}
