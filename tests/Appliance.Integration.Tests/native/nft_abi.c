/*
 * Prints the libnftables constants that src/Appliance.Linux/Interop/Interop.Nftables.cs
 * hard-codes, as "NAME VALUE" lines (decimal, unsigned), from the installed
 * <nftables/libnftables.h> (Debian: libnftables-dev). Compiled and run by Edge/NftAbiTests.cs.
 * Keep the names identical to the C#.
 */
#include <stdio.h>
#include <stdbool.h>
#include <nftables/libnftables.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))

int main(void)
{
    C(NFT_CTX_DEFAULT);
    C(NFT_CTX_OUTPUT_STATELESS); C(NFT_CTX_OUTPUT_HANDLE); C(NFT_CTX_OUTPUT_JSON);
    C(NFT_CTX_OUTPUT_ECHO); C(NFT_CTX_OUTPUT_TERSE);
    /* nft_ctx_set_dry_run takes a C bool: marshalled as one byte (UnmanagedType.U1) */
    printf("sizeof.bool %zu\n", sizeof(bool));
    return 0;
}
