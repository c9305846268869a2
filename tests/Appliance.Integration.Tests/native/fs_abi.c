/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.FileSystem.cs (Interop.Fs)
 * hard-codes, as "NAME VALUE" lines (decimal, unsigned), from the installed kernel uapi and libc
 * headers. Compiled and run by Edge/FileSystemAbiTests.cs. Keep the names identical to the C#.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* struct statx <linux/stat.h>: only the fields Interop.Fs.Statx declares */
    SIZE(statx);
    OFF(statx, stx_mask); OFF(statx, stx_uid); OFF(statx, stx_mode);
    /* open(2) <asm-generic/fcntl.h>, <asm/fcntl.h> */
    C(O_WRONLY); C(O_EXCL);
    /* not a C# constant (it differs on arm): compared by name in the test */
    printf("value.O_NOFOLLOW %llu\n", (unsigned long long)O_NOFOLLOW);
    /* statx(2) <linux/fcntl.h>, <linux/stat.h> */
    C(AT_EMPTY_PATH); C(AT_SYMLINK_NOFOLLOW); C(STATX_TYPE); C(STATX_MODE); C(STATX_UID);
    /* memfd_create(2) <linux/memfd.h> */
    C(MFD_CLOEXEC);
    C(S_IFMT); C(S_IFSOCK); C(S_IFLNK); C(S_IFREG); C(S_IFBLK); C(S_IFDIR); C(S_IFCHR); C(S_IFIFO);
    return 0;
}
