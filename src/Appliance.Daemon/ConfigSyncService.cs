using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Core.Config;
using Appliance.Core.ConfigSync;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>How applying a config from the peer ended, as the config's owner reports it.</summary>
internal sealed record PeerApplyOutcome(ApplyOutcome Outcome, string Message);

/// <summary>
/// The config the daemon runs, as config sync needs it: its bytes, the model they load to, and the
/// one way a config from the peer becomes this node's (written durably, applied live where it can be,
/// the rest listed for a restart). Implemented over the config file and the reloader
/// (<see cref="FileConfigSource"/>), or over the console's config store.
/// </summary>
internal interface IConfigSource
{
    /// <summary>The file the daemon runs (what validation errors name).</summary>
    string Path { get; }

    /// <summary>The bytes of the config the daemon runs now.</summary>
    byte[] Current();

    /// <summary>The running config's model (what a config from the peer is compared with).</summary>
    ApplianceConfig Running { get; }

    /// <summary>
    /// Makes <paramref name="text"/> (valid for this node: checked before) the running config, only if
    /// the running config's bytes still hash to <paramref name="expected"/> (None: no such condition).
    /// Nothing changes when it is refused.
    /// </summary>
    Task<PeerApplyOutcome> ApplyFromPeerAsync(byte[] text, ConfigHash expected, string peer, CancellationToken ct);
}

/// <summary>
/// <see cref="IConfigSource"/> over the config file and <see cref="ConfigReloader"/>: a config from the
/// peer is written over the file (atomically, with the file's own mode) and reloaded; if the reload
/// refuses it, the old bytes are written back, so the file and the running config never disagree
/// because of sync.
/// </summary>
internal sealed class FileConfigSource(string path, ConfigReloader reloader) : IConfigSource
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public string Path => path;

    public ApplianceConfig Running => reloader.Running;

    public byte[] Current() => File.ReadAllBytes(path);

    public async Task<PeerApplyOutcome> ApplyFromPeerAsync(byte[] text, ConfigHash expected, string peer, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            byte[] before = File.ReadAllBytes(path);
            if (expected != ConfigHash.None && ConfigHash.Of(before) != expected)
                return new PeerApplyOutcome(ApplyOutcome.Refused,
                    $"{path} changed meanwhile (it hashes to {ConfigHash.Of(before).Short}, not {expected.Short})");
            if (before.AsSpan().SequenceEqual(text))
                return new PeerApplyOutcome(ApplyOutcome.Unchanged, $"{path} holds it already");
            var mode = File.GetUnixFileMode(path);
            DurableFile.Replace(path, text, mode);
            var outcome = await reloader.ReloadFileAsync($"config sync from {peer}", ct).ConfigureAwait(false);
            if (!outcome.Ok)
            {
                DurableFile.Replace(path, before, mode);
                await reloader.ReloadFileAsync($"config sync from {peer}: restoring the previous file", ct).ConfigureAwait(false);
                return new PeerApplyOutcome(ApplyOutcome.Refused, outcome.Message);
            }
            return new PeerApplyOutcome(outcome.RestartNeeded.IsEmpty ? ApplyOutcome.Applied : ApplyOutcome.RestartNeeded, outcome.Message);
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>The carrier of sync payloads: the heartbeat worker (<see cref="HeartbeatProxy"/>) in the daemon.</summary>
internal interface ISyncTransport
{
    void Send(byte[] payload);

    void SetWord(uint word);
}

/// <summary>What an operation (push, pull, diff, a commit's replication) ended with.</summary>
internal sealed record SyncResult(bool Ok, string Message, byte[]? Text = null, ApplyReport? Report = null);

/// <summary>
/// The daemon's host of <see cref="ConfigSyncEngine"/> (README "Keeping the pair's config in sync"):
/// one loop owns the engine (calls are posted to it), carries out its outputs (payloads to the worker,
/// the keepalive word, the sync state file, logs), checks and applies what the peer sent
/// (<see cref="IConfigSource"/>), and answers `config push|pull|diff` and a commit's replication.
/// </summary>
internal sealed class ConfigSyncService : IAsyncDisposable
{
    /// <summary>How long a commit waits for the peer's report before it answers "still replicating".</summary>
    public static readonly TimeSpan CommitWait = TimeSpan.FromSeconds(30);

    private readonly string _self;
    private readonly string _peer;
    private readonly string _statePath;
    private readonly IConfigSource _source;
    private readonly ISyncTransport _transport;
    private readonly Func<string, ConfigResult> _load;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ConfigSyncEngine _engine;
    private readonly Channel<Action> _posts = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<long, TaskCompletionSource<SyncResult>> _waiting = [];
    private readonly SemaphoreSlim _applyGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile SyncView? _view;

    /// <param name="load">The config checker for this node (file path and board profiles bound): text to model or errors.</param>
    public ConfigSyncService(string self, string peer, string stateDir, IConfigSource source, ISyncTransport transport,
        Func<string, ConfigResult> load, ILogger log, TimeProvider time, SyncLimits? limits = null)
    {
        _self = self;
        _peer = peer;
        _statePath = Path.Combine(stateDir, "config-sync");
        _source = source;
        _transport = transport;
        _load = load;
        _log = log;
        _time = time;
        _origin = time.GetTimestamp();
        _engine = new ConfigSyncEngine(self, peer, limits ?? SyncLimits.Default, RandomId);
    }

    private static ulong RandomId()
    {
        Span<byte> b = stackalloc byte[8];
        System.Security.Cryptography.RandomNumberGenerator.Fill(b);
        return BitConverter.ToUInt64(b) | 1;
    }

    private TimeSpan Now() => _time.GetElapsedTime(_origin);

    /// <summary>What status shows (as of the loop's last step).</summary>
    public SyncView? View => _view;

    public void Start()
    {
        var (local, agreed) = ReadState();
        byte[] text = _source.Current();
        _engine.Restore(Now(), text, local, agreed);
        Drain();
        _loop = Task.Run(Loop);
    }

    /// <summary>Any thread: a payload from the peer (the worker checked its envelope).</summary>
    public void Received(byte[] payload) => Post(() => _engine.OnPayload(Now(), payload));

    /// <summary>Any thread: the heartbeat's view of the peer (status is polled once a second).</summary>
    public void PeerHeartbeat(bool up, uint word) => Post(() => _engine.PeerHeartbeat(Now(), up, word));

    public Task<SyncResult> PushAsync(bool force) => Operation(() => _engine.Push(Now(), force));

    public Task<SyncResult> PullAsync(bool force) => Operation(() => _engine.Pull(Now(), force));

    public Task<SyncResult> FetchAsync() => Operation(() => _engine.Fetch(Now()));

    /// <summary>
    /// The running config changed here (a commit, a rollback, a reload of an edited file): replicate it
    /// if the peer still runs what the two agreed on, and wait up to <paramref name="wait"/> for the
    /// peer's report. The answer is one line for the commit's reply.
    /// </summary>
    public async Task<SyncResult> LocalChangedAsync(byte[] text, TimeSpan wait)
    {
        var started = new TaskCompletionSource<Task<SyncResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            var start = _engine.LocalChanged(Now(), text);
            if (start.Op is { } op)
            {
                var tcs = new TaskCompletionSource<SyncResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting[op] = tcs;
                started.SetResult(tcs.Task);
            }
            else
                started.SetResult(Task.FromResult(new SyncResult(true, start.Note)));
        });
        var replication = await started.Task.ConfigureAwait(false);
        try
        {
            return await replication.WaitAsync(wait, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new SyncResult(true, $"replicating to {_peer}: no report within {wait.TotalSeconds:0} s yet; `appliancectl status` shows how it ends");
        }
    }

    private Task<SyncResult> Operation(Func<long> start)
    {
        var tcs = new TaskCompletionSource<SyncResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() => _waiting[start()] = tcs); // the outputs (maybe its end already) are carried out after this
        return tcs.Task;
    }

    /// <summary>Runs <paramref name="a"/> on the loop; dropped once the service is stopping.</summary>
    private void Post(Action a) => _posts.Writer.TryWrite(a);

    private async Task Loop()
    {
        var reader = _posts.Reader;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                TimeSpan wake = _engine.NextWake();
                TimeSpan now = Now();
                if (wake > now)
                {
                    // Wait for a post or the engine's next deadline (an hour at most: nothing is due that far).
                    var delay = wake - now < TimeSpan.FromHours(1) ? wake - now : TimeSpan.FromHours(1);
                    using var timer = new CancellationTokenSource(delay, _time);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timer.Token);
                    try
                    {
                        await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                    }
                }
                while (reader.TryRead(out var post))
                {
                    post();
                    Drain();
                }
                _engine.Tick(Now());
                Drain();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // A bug in one step must not end config sync for good (nor the daemon): log and go on.
                Trace.BackgroundFailed(_log, "config sync", e.ToString());
                await Task.Delay(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Carries out the engine's outputs (on the loop).</summary>
    private void Drain()
    {
        while (_engine.Outbox.Count > 0)
        {
            var outputs = _engine.Outbox.ToArray();
            _engine.Outbox.Clear();
            foreach (var o in outputs)
            {
                switch (o)
                {
                    case SendMessage s:
                        _transport.Send(s.Message.ToBytes());
                        break;
                    case StampsChanged st:
                        _transport.SetWord(st.Word);
                        WriteState(st.Local, st.Agreed);
                        break;
                    case ApplyRequested r:
                        _ = Task.Run(() => ApplyAsync(r));
                        break;
                    case OperationEnded e:
                        Trace.SyncOperation(_log, e.Kind.ToString().ToLowerInvariant(), e.Ok ? "ok" : "failed", e.Message);
                        if (_waiting.Remove(e.Op, out var tcs))
                            tcs.TrySetResult(new SyncResult(e.Ok, e.Message, e.Text?.ToArray(), e.Report));
                        break;
                    case SyncNote n:
                        Log(n);
                        break;
                }
            }
        }
        _view = _engine.View();
    }

    private void Log(SyncNote n)
    {
        switch (n.Kind)
        {
            case SyncNoteKind.StateChanged when n.Message.StartsWith("config diverged", StringComparison.Ordinal):
                Trace.SyncDiverged(_log, n.Message);
                break;
            case SyncNoteKind.StateChanged:
                Trace.SyncState(_log, n.Message);
                break;
            case SyncNoteKind.TransferStarted or SyncNoteKind.TransferCompleted:
                Trace.SyncTransfer(_log, n.Message);
                break;
            case SyncNoteKind.TransferFailed:
                Trace.SyncTransferFailed(_log, n.Message);
                break;
            case SyncNoteKind.Refused:
                Trace.SyncRefused(_log, n.Message);
                break;
            case SyncNoteKind.Reported:
                Trace.SyncReported(_log, n.Message);
                break;
            default:
                Trace.SyncProtocol(_log, n.Message);
                break;
        }
    }

    /// <summary>Checks a config the peer sent and, if it may be, makes it this node's; reports to the engine.</summary>
    private async Task ApplyAsync(ApplyRequested r)
    {
        PeerApplyOutcome outcome;
        await _applyGate.WaitAsync().ConfigureAwait(false);
        try
        {
            outcome = await CheckAndApplyAsync(r).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            outcome = new PeerApplyOutcome(ApplyOutcome.Refused, $"cannot write {_source.Path}: {e.Message}");
        }
        finally
        {
            _applyGate.Release();
        }
        if (outcome.Outcome == ApplyOutcome.Refused)
            Trace.SyncApplyRefused(_log, r.Stamp.ToString(), _peer, _engine.Local.ToString(), outcome.Message);
        else
            Trace.SyncApplied(_log, ApplyReport.OutcomeName(outcome.Outcome), r.Stamp.ToString(), _peer,
                outcome.Message.Length > 0 ? ": " + outcome.Message : "");
        var report = new ApplyReport(outcome.Outcome, r.Stamp, outcome.Message);
        Post(() => _engine.ApplyDone(Now(), r.TransferId, report));
    }

    private async Task<PeerApplyOutcome> CheckAndApplyAsync(ApplyRequested r)
    {
        Trace.SyncChecking(_log, ConfigSyncEngine.KindName(r.Kind), r.Stamp.ToString(), _peer, r.Text.Length);
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(r.Text.Span);
        }
        catch (DecoderFallbackException)
        {
            return new PeerApplyOutcome(ApplyOutcome.Refused, "it is not UTF-8 text");
        }
        var loaded = _load(text);
        if (loaded.Config is not { } candidate)
            return new PeerApplyOutcome(ApplyOutcome.Refused,
                $"the checker refused it for {_self}:\n" + string.Join("\n", loaded.Errors.Select(e => "  " + e)));
        if (candidate.FindNode(_self) is null)
            return new PeerApplyOutcome(ApplyOutcome.Refused,
                $"it has no node '{_self}' (nodes: {string.Join(", ", candidate.Nodes.Select(n => n.Name))})");
        var protectedChanges = PeerConfigPolicy.ProtectedChanges(_source.Running, candidate);
        if (protectedChanges.Count > 0)
        {
            if (!r.Force)
                return new PeerApplyOutcome(ApplyOutcome.Refused,
                    "it changes the pair's identity, which is never replicated silently: " + string.Join("; ", protectedChanges) +
                    $"; to apply it anyway: `config push --force` on {_peer}, or `config pull --force` on {_self}");
            if (candidate.Cluster.KeyFile != _source.Running.Cluster.KeyFile && KeyFile.Load(candidate.Cluster.KeyFile) is { Key: null } bad)
                return new PeerApplyOutcome(ApplyOutcome.Refused, $"even forced: {_self} cannot use the new key file: {bad.Error}");
        }
        var outcome = await _source.ApplyFromPeerAsync(r.Text.ToArray(), r.Expected, _peer, _stop.Token).ConfigureAwait(false);
        if (protectedChanges.Count > 0 && outcome.Outcome != ApplyOutcome.Refused)
            outcome = outcome with { Message = outcome.Message + "\nforced, protected changes (need a restart of both nodes): " + string.Join("; ", protectedChanges) };
        return outcome;
    }

    // ------------------------------------------------------------------ the sync state file

    /// <summary>STATE_DIR/config-sync: {"local": {"version", "sha256"}, "agreed": {...}|null}.</summary>
    private (ConfigStamp Local, ConfigStamp Agreed) ReadState()
    {
        if (!File.Exists(_statePath))
            return (ConfigStamp.None, ConfigStamp.None);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(_statePath));
            var root = doc.RootElement;
            return (ReadStamp(root.GetProperty("local")), ReadStamp(root.GetProperty("agreed")));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            Trace.SyncStateUnreadable(_log, _statePath, e.Message);
            return (ConfigStamp.None, ConfigStamp.None);
        }
    }

    private static ConfigStamp ReadStamp(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Null)
            return ConfigStamp.None;
        if (!ConfigHash.TryParseHex(e.GetProperty("sha256").GetString() ?? "", out var hash))
            throw new FormatException("sha256 is not 64 hex digits");
        return new ConfigStamp(e.GetProperty("version").GetUInt32(), hash);
    }

    private void WriteState(ConfigStamp local, ConfigStamp agreed)
    {
        try
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                WriteStamp(w, "local", local);
                WriteStamp(w, "agreed", agreed);
                w.WriteEndObject();
            }
            Directory.CreateDirectory(Path.GetDirectoryName(_statePath)!);
            DurableFile.Replace(_statePath, stream.ToArray(), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.SyncStateUnwritable(_log, _statePath, e.Message);
        }
    }

    internal static void WriteStamp(Utf8JsonWriter w, string name, ConfigStamp? stamp)
    {
        if (stamp is not { } s || s.IsNone)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        w.WriteNumber("version", s.Counter);
        w.WriteString("sha256", s.Hash.Hex);
        w.WriteEndObject();
    }

    // ------------------------------------------------------------------ status

    /// <summary>
    /// The `config_sync` object of `status --json`: {"state": "in sync|peer newer|local newer|diverged|unknown",
    /// "detail", "local": {"version", "sha256"}, "agreed", "peer" (null when unknown), "peer_word",
    /// "sending"/"receiving": {"kind", "bytes", "fragments", "done", "retransmissions"}|null, "last",
    /// "transfers_sent", "transfers_received", "retransmissions", "links": [{"name", "tx_messages",
    /// "tx_bytes", "rx_messages", "rx_rejected"}]}.
    /// </summary>
    public static void WriteStatus(Utf8JsonWriter w, SyncView? v, IReadOnlyList<SyncLinkCounters> links)
    {
        w.WriteStartObject("config_sync");
        if (v is null)
        {
            w.WriteString("state", "unknown");
            w.WriteString("detail", "config sync has not started");
            w.WriteEndObject();
            return;
        }
        w.WriteString("state", SyncJudge.Name(v.State));
        w.WriteString("detail", v.Detail);
        WriteStamp(w, "local", v.Local);
        WriteStamp(w, "agreed", v.Agreed);
        WriteStamp(w, "peer", v.Peer);
        w.WriteNumber("peer_word", v.PeerWord);
        WriteTransfer(w, "sending", v.Sending);
        WriteTransfer(w, "receiving", v.Receiving);
        w.WriteString("last", v.LastOutcome);
        w.WriteNumber("transfers_sent", v.TransfersSent);
        w.WriteNumber("transfers_received", v.TransfersReceived);
        w.WriteNumber("retransmissions", v.Retransmissions);
        w.WriteStartArray("links");
        foreach (var l in links)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteNumber("tx_messages", l.TxMessages);
            w.WriteNumber("tx_bytes", l.TxBytes);
            w.WriteNumber("rx_messages", l.RxMessages);
            w.WriteNumber("rx_rejected", l.RxRejected);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTransfer(Utf8JsonWriter w, string name, TransferView? t)
    {
        if (t is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        w.WriteString("kind", t.Kind.ToString().ToLowerInvariant());
        w.WriteNumber("bytes", t.Bytes);
        w.WriteNumber("fragments", t.Fragments);
        w.WriteNumber("done", t.Done);
        w.WriteNumber("retransmissions", t.Retransmissions);
        w.WriteEndObject();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _posts.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
        }
        foreach (var tcs in _waiting.Values)
            tcs.TrySetResult(new SyncResult(false, "applianced is stopping"));
    }
}
