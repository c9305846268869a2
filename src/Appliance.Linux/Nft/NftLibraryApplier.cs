using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Nft;

/// <summary>
/// libnftables in this process: one context, reused (its cache makes a small change to a big table
/// cheaper than a fresh `nft` process: 0.3 ms vs 18 ms at 10 servers, reference/nat-director.md
/// section 4). The text syntax only (see <see cref="Interop.Nftables"/>).
/// <para>
/// Native code that can crash: a SIGSEGV in the library kills the process, and on some errors
/// 1.0.6 calls exit() itself (netlink_init_error: "Unable to initialize Netlink socket", exit 3;
/// memory_allocation_error, exit 4). The daemon therefore runs this class only inside its nft
/// worker process (Appliance.Daemon.NftWorker), never next to the heartbeat.
/// </para>
/// </summary>
public sealed class NftLibraryApplier : INftApplier
{
    private readonly SafeNftContextHandle _ctx;
    private readonly Lock _gate = new(); // a context is not thread-safe

    private NftLibraryApplier(SafeNftContextHandle ctx) => _ctx = ctx;

    /// <summary>Opens a context (its netlink socket in the calling thread's network namespace); throws DllNotFoundException or NativeIoException.</summary>
    public static NftLibraryApplier Open() => new(SafeNftContextHandle.Open());

    public NftBackend Backend => NftBackend.Library;

    public string? FallbackReason => null;

    public NftResult Apply(string text, bool checkOnly = false)
    {
        if (NftApplier.RefuseText(text) is { } why)
            return new NftResult(NftOutcome.Rejected, why, "", NftBackend.Library, TimeSpan.Zero);
        lock (_gate)
        {
            Interop.Nftables.SetDryRun(_ctx, checkOnly);
            try
            {
                return RunTransaction(text, checkOnly);
            }
            finally
            {
                Interop.Nftables.SetDryRun(_ctx, false);
            }
        }
    }

    /// <summary>
    /// Hands the text to libnftables as a file, an anonymous one in memory (memfd) read back
    /// through /proc/self/fd: errors then name "transaction:LINE:COLUMN" and quote the right line
    /// (see <see cref="Interop.Nftables.RunCmdFromFilename"/>). Costs one memfd and one write.
    /// </summary>
    private NftResult RunTransaction(string text, bool checkOnly)
    {
        long start = Stopwatch.GetTimestamp();
        int fd = Interop.Fs.MemfdCreate(TransactionName, Interop.Fs.MFD_CLOEXEC);
        if (fd < 0)
            return NftResult.Fail(Interop.Sys.CreateIoExceptionForLastError("memfd_create", TransactionName).Message, NftBackend.Library);
        using var file = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            RandomAccess.Write(file, Encoding.UTF8.GetBytes(text), 0);
        }
        catch (IOException e)
        {
            return NftResult.Fail($"cannot write the transaction to its memfd: {e.Message}", NftBackend.Library);
        }
        string path = $"/proc/self/fd/{fd}";
        int rc = Interop.Nftables.RunCmdFromFilename(_ctx, path);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var (output, error) = TakeBuffers();
        var outcome = rc == 0 ? (checkOnly ? NftOutcome.Checked : NftOutcome.Applied) : NftOutcome.Rejected;
        return new NftResult(outcome, error.Replace(path + ":", TransactionName + ":", StringComparison.Ordinal), output, NftBackend.Library, elapsed);
    }

    /// <summary>How error messages name the text of a transaction ("transaction:3:38-44: Error: ...").</summary>
    public const string TransactionName = "transaction";

    public NftResult List(NftTable table, bool stateless = false) => Read($"list table {table}", stateless);

    public NftResult ListCounters(NftTable table) => Read($"list counters table {table}", stateless: false);

    private NftResult Read(string command, bool stateless)
    {
        lock (_gate)
        {
            uint flags = Interop.Nftables.OutputGetFlags(_ctx);
            uint wanted = stateless ? flags | Interop.Nftables.NFT_CTX_OUTPUT_STATELESS : flags & ~Interop.Nftables.NFT_CTX_OUTPUT_STATELESS;
            Interop.Nftables.OutputSetFlags(_ctx, wanted & ~Interop.Nftables.NFT_CTX_OUTPUT_JSON);
            try
            {
                var (rc, output, error, elapsed) = Run(command);
                return new NftResult(rc == 0 ? NftOutcome.Applied : NftOutcome.Rejected, error, output, NftBackend.Library, elapsed);
            }
            finally
            {
                Interop.Nftables.OutputSetFlags(_ctx, flags);
            }
        }
    }

    /// <summary>A one-line read command (list): from a buffer, whose first line is the only one.</summary>
    private unsafe (int Rc, string Output, string Error, TimeSpan Elapsed) Run(string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length) + 1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int n = Encoding.UTF8.GetBytes(text, buffer);
            buffer[n] = 0;
            long start = Stopwatch.GetTimestamp();
            int rc;
            fixed (byte* p = buffer)
                rc = Interop.Nftables.RunCmdFromBuffer(_ctx, p);
            var elapsed = Stopwatch.GetElapsedTime(start);
            var (output, error) = TakeBuffers();
            return (rc, output, error, elapsed);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Both buffers, read after every run: each read rewinds, so nothing carries over to the next.</summary>
    private (string Output, string Error) TakeBuffers()
    {
        string output = Marshal.PtrToStringUTF8(Interop.Nftables.GetOutputBuffer(_ctx)) ?? "";
        string error = Marshal.PtrToStringUTF8(Interop.Nftables.GetErrorBuffer(_ctx)) ?? "";
        return (output, error.TrimEnd('\n'));
    }

    /// <summary>
    /// Test hook of the nft worker (APPLIANCE_TEST_HOOKS=1): a real crash inside libnftables.
    /// nft_run_cmd_from_buffer(ctx, NULL) calls strlen(NULL): SIGSEGV in native code, which the
    /// runtime does not turn into an exception; the process dies.
    /// </summary>
    internal unsafe void CrashInsideLibrary()
    {
        lock (_gate)
            Interop.Nftables.RunCmdFromBuffer(_ctx, null);
    }

    public void Dispose() => _ctx.Dispose();
}
