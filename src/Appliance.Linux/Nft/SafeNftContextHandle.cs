using System.Runtime.InteropServices;

namespace Appliance.Linux.Nft;

/// <summary>
/// Owns a libnftables context (<c>struct nft_ctx *</c>). Created only by <see cref="Open"/>, which
/// also switches both its outputs to memory buffers before anything can run: by default the
/// library prints to the process's stdout and stderr, and in the nft worker stdout is the line
/// protocol to the daemon. Freed exactly once by the runtime.
/// </summary>
internal sealed class SafeNftContextHandle : SafeHandle
{
    /// <summary>The device named in exceptions.</summary>
    public const string Device = Interop.Libraries.Nftables;

    private SafeNftContextHandle(nint ctx)
        : base(0, ownsHandle: true)
    {
        SetHandle(ctx);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>
    /// nft_ctx_new(NFT_CTX_DEFAULT) with buffered output and error. The context's netlink socket
    /// belongs for its whole life to the network namespace of the calling thread. Throws
    /// <see cref="DllNotFoundException"/> when libnftables.so.1 is not installed and
    /// <see cref="NativeIoException"/> when the library cannot make or set up a context; never leaks it.
    /// </summary>
    public static SafeNftContextHandle Open()
    {
        nint ctx = Interop.Nftables.CtxNew(Interop.Nftables.NFT_CTX_DEFAULT);
        if (ctx == 0)
            throw Interop.Sys.CreateIoExceptionForLastError("nft_ctx_new", Device);
        var handle = new SafeNftContextHandle(ctx);
        try
        {
            if (Interop.Nftables.BufferOutput(handle) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("nft_ctx_buffer_output", Device);
            if (Interop.Nftables.BufferError(handle) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("nft_ctx_buffer_error", Device);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    protected override bool ReleaseHandle()
    {
        Interop.Nftables.CtxFree(handle);
        return true;
    }
}
