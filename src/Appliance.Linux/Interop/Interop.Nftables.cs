using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// libnftables: the high-level nftables API (libnftables(3), &lt;nftables/libnftables.h&gt;).
    /// We drive it with the nft text syntax only: nft 1.0.6's JSON input parser crashed the process
    /// (SIGSEGV) on a document that the text parser refuses cleanly (reference/nat-director.md 3.12),
    /// so <see cref="NFT_CTX_OUTPUT_JSON"/> is declared only to be refused (in 1.0.6 that output
    /// flag also switches the input parser to JSON). A context is not thread-safe: one caller at a
    /// time. Constants pinned by native/nft_abi.c (Edge/NftAbiTests).
    /// </summary>
    internal static partial class Nftables
    {
        /// <summary>nft_ctx_new(3) flags: the default, which also opens the netlink socket (in the calling thread's network namespace). &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_DEFAULT = 0;

        // ---- output flags, nft_ctx_output_set_flags(3): <nftables/libnftables.h> ----
        /// <summary>Omit stateful data (counter values, set element expiry): a listing that traffic does not change. &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_OUTPUT_STATELESS = 1 << 2;
        /// <summary>Print object handles (as `# handle N`). &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_OUTPUT_HANDLE = 1 << 3;
        /// <summary>JSON output; in 1.0.6 it also makes the context parse its input as JSON first. Never set (class remarks). &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_OUTPUT_JSON = 1 << 4;
        /// <summary>Echo what a command added (with handles). &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_OUTPUT_ECHO = 1 << 5;
        /// <summary>Omit set contents in listings. &lt;nftables/libnftables.h&gt;</summary>
        internal const uint NFT_CTX_OUTPUT_TERSE = 1 << 11;

        /// <summary>nft_ctx_new(3): a new context, or NULL (out of memory). Free with <see cref="CtxFree"/>.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_new", SetLastError = true)]
        internal static partial nint CtxNew(uint flags);

        /// <summary>nft_ctx_free(3): closes the context's netlink socket and frees it (and its buffers).</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_free")]
        internal static partial void CtxFree(nint ctx);

        /// <summary>nft_ctx_set_dry_run(3): check mode (nft -c): commands are evaluated and sent to the kernel, which validates the batch and aborts it.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_set_dry_run")]
        internal static partial void SetDryRun(SafeHandle ctx, [MarshalAs(UnmanagedType.U1)] bool dry);

        /// <summary>nft_ctx_output_get_flags(3): the NFT_CTX_OUTPUT_* flags in force.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_output_get_flags")]
        internal static partial uint OutputGetFlags(SafeHandle ctx);

        /// <summary>nft_ctx_output_set_flags(3): replaces the NFT_CTX_OUTPUT_* flags.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_output_set_flags")]
        internal static partial void OutputSetFlags(SafeHandle ctx, uint flags);

        /// <summary>nft_ctx_buffer_output(3): collect standard output in memory instead of writing stdout. 0, or 1 on failure (errno from open_memstream/fopencookie).</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_buffer_output", SetLastError = true)]
        internal static partial int BufferOutput(SafeHandle ctx);

        /// <summary>nft_ctx_buffer_error(3): collect error output (messages with file:line:column and a caret line) in memory. 0, or 1 on failure.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_buffer_error", SetLastError = true)]
        internal static partial int BufferError(SafeHandle ctx);

        /// <summary>
        /// nft_ctx_get_output_buffer(3): what was written since the last call (and rewinds it); owned
        /// by the context, valid until the next call on it. NULL when output is not buffered.
        /// </summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_get_output_buffer")]
        internal static partial nint GetOutputBuffer(SafeHandle ctx);

        /// <summary>nft_ctx_get_error_buffer(3): as <see cref="GetOutputBuffer"/>, for error output.</summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_ctx_get_error_buffer")]
        internal static partial nint GetErrorBuffer(SafeHandle ctx);

        /// <summary>
        /// nft_run_cmd_from_buffer(3): parses and runs a NUL-terminated buffer of nft commands. All of
        /// it goes to the kernel as one netlink batch, which the kernel applies atomically: either
        /// every command takes effect or none does. 0 on success, -1 on any error (see the error buffer).
        /// </summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_run_cmd_from_buffer")]
        internal static unsafe partial int RunCmdFromBuffer(SafeHandle ctx, byte* buffer);

        /// <summary>
        /// nft_run_cmd_from_filename(3): as <see cref="RunCmdFromBuffer"/> (one batch, atomic) for
        /// the commands in a file (nft -f). Used for transactions because its error messages carry
        /// "FILE:LINE:COLUMN" and quote the failing line; for a buffer, 1.0.6 prints no location and
        /// quotes the buffer's first line whatever line failed. 0 on success, -1 on any error.
        /// </summary>
        [LibraryImport(Libraries.Nftables, EntryPoint = "nft_run_cmd_from_filename", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int RunCmdFromFilename(SafeHandle ctx, string filename);
    }
}
