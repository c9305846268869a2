/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.Inotify.cs (Interop.Inotify)
 * hard-codes, as "NAME VALUE" lines (decimal), from the installed <sys/inotify.h> (glibc, which
 * takes the masks from <linux/inotify.h>). Compiled and run by Edge/GpioAbiTests.cs, which compares
 * every constant of that class and the layout of struct inotify_event with this output.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <sys/inotify.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* the fixed part only: name[] is a flexible array member, sizeof leaves it out */
    SIZE(inotify_event);
    OFF(inotify_event, wd); OFF(inotify_event, mask); OFF(inotify_event, cookie); OFF(inotify_event, len);

    C(IN_NONBLOCK); C(IN_CLOEXEC);
    C(IN_MODIFY); C(IN_ATTRIB); C(IN_CLOSE_WRITE); C(IN_DELETE_SELF); C(IN_Q_OVERFLOW); C(IN_IGNORED);
    return 0;
}
