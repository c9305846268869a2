namespace Appliance.Core.ConfigSync;

/// <summary>What an operation of the engine is.</summary>
public enum SyncOpKind
{
    /// <summary>A commit's automatic replication (or a heal's).</summary>
    Replicate,
    /// <summary>`config push [--force]`.</summary>
    Push,
    /// <summary>`config pull [--force]`.</summary>
    Pull,
    /// <summary>`config diff`: the peer's text.</summary>
    Fetch,
}

/// <summary>What the engine asks of its host, in order (the host takes them all after each call).</summary>
public abstract record SyncOutput;

/// <summary>Send this message to the peer (over the heartbeat links).</summary>
public sealed record SendMessage(SyncMessage Message) : SyncOutput;

/// <summary>
/// A config arrived whole from the peer: validate it for this node, refuse protected changes unless
/// <paramref name="Force"/>, and (only if this node still runs <paramref name="Expected"/>, when it is
/// not <see cref="ConfigHash.None"/>) write and apply it; report with <see cref="ConfigSyncEngine.ApplyDone"/>.
/// </summary>
public sealed record ApplyRequested(ulong TransferId, TransferKind Kind, bool Force, ReadOnlyMemory<byte> Text, ConfigStamp Stamp, ConfigHash Expected) : SyncOutput;

/// <summary>An operation ended. <paramref name="Text"/>: the peer's config (fetch); <paramref name="Report"/>: the applying side's report.</summary>
public sealed record OperationEnded(long Op, SyncOpKind Kind, bool Ok, string Message, ReadOnlyMemory<byte>? Text = null, ApplyReport? Report = null) : SyncOutput;

/// <summary>The local stamp or the agreed one changed: persist both, and put <paramref name="Word"/> in the keepalives.</summary>
public sealed record StampsChanged(ConfigStamp Local, ConfigStamp Agreed, uint Word) : SyncOutput;

public enum SyncNoteKind
{
    StateChanged,
    TransferStarted,
    TransferCompleted,
    TransferFailed,
    /// <summary>The peer refused or abandoned a transfer or request of ours, or we refused one of its.</summary>
    Refused,
    /// <summary>A report of an apply (the peer's of ours, or ours of the peer's).</summary>
    Reported,
    /// <summary>An authentic message that makes no sense here (a bug or a newer peer).</summary>
    Protocol,
}

/// <summary>Something for the log.</summary>
public sealed record SyncNote(SyncNoteKind Kind, string Message) : SyncOutput;

/// <summary>A transfer in progress, for status.</summary>
public sealed record TransferView(ulong Id, TransferKind Kind, int Bytes, int Fragments, int Done, int Retransmissions);

/// <summary>What status, the console and the panel show of the pair's config.</summary>
public sealed record SyncView(
    SyncState State,
    string Detail,
    ConfigStamp Local,
    ConfigStamp Agreed,
    ConfigStamp? Peer,
    uint PeerWord,
    bool PeerUp,
    TransferView? Sending,
    TransferView? Receiving,
    string LastOutcome,
    long TransfersSent,
    long TransfersReceived,
    long Retransmissions);

/// <summary>What a commit's replication became: an operation to wait for, or why there is none.</summary>
public readonly record struct ReplicationStart(long? Op, string Note);

/// <summary>
/// Keeps the pair's config in sync, sans-I/O (README "Keeping the pair's config in sync"): announces
/// what this node runs, judges the pair's state against the last version both ran
/// (<see cref="SyncJudge"/>), replicates a commit when the peer still runs what the two agreed on,
/// moves configs in fragments with acknowledgements and retransmission (<see cref="OutboundTransfer"/>,
/// <see cref="InboundTransfer"/>), and serves `config push|pull|diff`. It never applies anything
/// itself: a config that arrived whole goes to the host as <see cref="ApplyRequested"/>, whose report
/// (<see cref="ApplyDone"/>) goes back to the sender. Messages in and out are the payloads of
/// <see cref="SyncEnvelope"/>: authenticity and freshness were checked before they reach the engine.
/// Single-threaded; time comes in as a value.
/// </summary>
public sealed class ConfigSyncEngine
{
    /// <summary>Outbound transfers queued at once: a config of ours, a report and a reply to the peer's pull may cross.</summary>
    public const int OutboundQueueMax = 4;

    /// <summary>Request ids of the peer already answered, so a repeated request does not start a second reply.</summary>
    public const int ServedRequestsRemembered = 8;

    private readonly string _self;
    private readonly string _peerName;
    private readonly SyncLimits _limits;
    private readonly Func<ulong> _random;
    private readonly List<SyncOutput> _outbox = [];
    private readonly List<SyncMessage> _scratch = [];
    private readonly List<Outbound> _outbound = [];
    private readonly Dictionary<ulong, InboundTransfer> _inbound = [];
    private readonly Queue<(ulong Id, ushort Count)> _completed = new();
    private readonly Dictionary<ulong, PendingApply> _applying = [];
    private readonly Dictionary<long, Op> _ops = [];
    private readonly Queue<ulong> _served = new();
    /// <summary>Transfers of ours lately, to name them when the peer's report comes (also a late one).</summary>
    private readonly Queue<(ulong Id, TransferKind Kind, ConfigStamp Stamp)> _recentSent = new();
    private byte[] _text = [];
    private ConfigStamp _local;
    private ConfigStamp _agreed;
    private AnnounceMessage? _peer;
    private uint _peerWord;
    private bool _peerUp;
    private TimeSpan _nextAnnounce = TimeSpan.MaxValue;
    private TimeSpan? _announceRequestedAt;
    private SyncState _lastState = SyncState.Unknown;
    /// <summary>A local config whose automatic replication the peer refused: not retried until it changes (an operator pushes).</summary>
    private ConfigHash _autoRefused;
    private long _nextOp;
    private string _lastOutcome = "";
    private long _sent;
    private long _received;
    private long _retransmissions;

    public ConfigSyncEngine(string selfName, string peerName, SyncLimits limits, Func<ulong> random)
    {
        _self = selfName;
        _peerName = peerName;
        _limits = limits;
        _random = random;
    }

    /// <summary>What to do, in order; the host takes them all (and clears the list) after each call.</summary>
    public List<SyncOutput> Outbox => _outbox;

    public ConfigStamp Local => _local;

    public ConfigStamp Agreed => _agreed;

    /// <summary>The current config's bytes (what a pull or a diff of the peer gets).</summary>
    public ReadOnlyMemory<byte> Text => _text;

    public SyncState State => _peerUp && _peerWord != KeepaliveWord.NotReported
        ? SyncJudge.Judge(_local, _peer?.Local, _agreed.IsNone ? null : _agreed)
        : SyncState.Unknown;

    /// <summary>
    /// At start: the config this node runs, and the stamps persisted by the last run (none on a first
    /// start). A file that changed while the daemon was down is a local change: it counts one up.
    /// </summary>
    public void Restore(TimeSpan now, byte[] text, ConfigStamp persistedLocal, ConfigStamp persistedAgreed)
    {
        _text = text;
        var hash = ConfigHash.Of(text);
        _local = persistedLocal.Hash == hash && !persistedLocal.IsNone ? persistedLocal : new ConfigStamp(persistedLocal.Counter + 1, hash);
        _agreed = persistedAgreed;
        _outbox.Add(new StampsChanged(_local, _agreed, KeepaliveWord.Of(_local)));
        _nextAnnounce = now;
    }

    /// <summary>
    /// This node's config changed here (a commit, a rollback, a reload of an edited file). Counts one
    /// above both nodes' counters and, when the peer still runs what the two agreed on, replicates it.
    /// </summary>
    public ReplicationStart LocalChanged(TimeSpan now, byte[] text)
    {
        var hash = ConfigHash.Of(text);
        if (hash == _local.Hash)
            return new ReplicationStart(null, $"{_self} runs {_local} already");
        uint top = Math.Max(_local.Counter, _peer?.Local.Counter ?? 0);
        _text = text;
        _local = new ConfigStamp(top + 1, hash);
        _autoRefused = ConfigHash.None;
        _outbox.Add(new StampsChanged(_local, _agreed, KeepaliveWord.Of(_local)));
        Announce(now);
        var start = MaybeReplicate(now, explicitCommit: true);
        NoteState();
        return start;
    }

    /// <summary>The heartbeat's view of the peer (polled by the host): alive or not, and the config word of its keepalives.</summary>
    public void PeerHeartbeat(TimeSpan now, bool up, uint word)
    {
        bool wasUp = _peerUp;
        _peerUp = up;
        _peerWord = up ? word : _peerWord;
        if (!up)
        {
            if (wasUp)
                PeerLost(now);
            NoteState();
            return;
        }
        if (word == KeepaliveWord.NotReported)
        {
            NoteState();
            return; // an older peer (or one still starting): no sync messages to it
        }
        if (!wasUp)
            Announce(now);
        if ((_peer is null || KeepaliveWord.Of(_peer.Local) != word) && (_announceRequestedAt is not { } asked || now - asked >= _limits.RequestRetry))
        {
            // The keepalive says the peer runs something its last announce did not say: ask.
            _announceRequestedAt = now;
            Send(new RequestMessage(_random(), RequestKind.Announce));
        }
        MaybeReplicate(now, explicitCommit: false);
        NoteState();
    }

    /// <summary>One payload from the peer (authentic and fresh: the envelope was checked).</summary>
    public void OnPayload(TimeSpan now, ReadOnlySpan<byte> payload)
    {
        var status = SyncWire.TryDecode(payload, out var message);
        if (status != SyncDecodeStatus.Ok)
        {
            _outbox.Add(new SyncNote(SyncNoteKind.Protocol, $"a sync message from {_peerName} could not be decoded ({status}); dropped"));
            return;
        }
        switch (message)
        {
            case AnnounceMessage a: OnAnnounce(now, a); break;
            case OfferMessage o: OnOffer(now, o); break;
            case FragmentMessage f: OnFragment(now, f); break;
            case AckMessage a: OnAck(now, a); break;
            case RequestMessage r: OnRequest(now, r); break;
            case CancelMessage c: OnCancel(now, c); break;
        }
        Pump(now);
        NoteState();
    }

    /// <summary>The host's report of an <see cref="ApplyRequested"/>: goes back to the peer; an applied config becomes this node's.</summary>
    public void ApplyDone(TimeSpan now, ulong transferId, ApplyReport report)
    {
        if (!_applying.Remove(transferId, out var pending))
            return;
        if (report.Applied && report.Outcome != ApplyOutcome.Unchanged)
        {
            _text = pending.Text.ToArray();
            _local = pending.Stamp;
        }
        if (report.Applied)
        {
            _agreed = _local;
            _autoRefused = ConfigHash.None;
            _outbox.Add(new StampsChanged(_local, _agreed, KeepaliveWord.Of(_local)));
            Announce(now);
        }
        string what = $"{KindName(pending.Kind)} {pending.Stamp} from {_peerName}: {ApplyReport.OutcomeName(report.Outcome)}";
        _lastOutcome = report.Message.Length > 0 ? $"{what}: {report.Message}" : what;
        _outbox.Add(new SyncNote(SyncNoteKind.Reported, _lastOutcome));
        var reportWithStamp = report with { Now = _local };
        var body = reportWithStamp.Encode(_limits.MaxResultBytes);
        Enqueue(now, TransferKind.Result, transferId, body, _local, ConfigHash.None, op: null);
        if (pending.Op is { } op && _ops.Remove(op, out var o))
            End(op, o.Kind, report.Applied, $"{_peerName}'s config {pending.Stamp}: {ApplyReport.OutcomeName(report.Outcome)}" +
                (report.Message.Length > 0 ? ": " + report.Message : ""), report: reportWithStamp);
        Pump(now);
        NoteState();
    }

    /// <summary>`config push [--force]`: sends this node's config to the peer to apply; ends with the peer's report.</summary>
    public long Push(TimeSpan now, bool force)
    {
        long op = ++_nextOp;
        if (Unreachable() is { } why)
            return EndAt(op, SyncOpKind.Push, false, why);
        if (_peer is { } p && p.Local.Hash == _local.Hash)
            return EndAt(op, SyncOpKind.Push, true, $"{_peerName} runs {_local} already; nothing to push");
        if (TooLarge() is { } large)
            return EndAt(op, SyncOpKind.Push, false, large);
        if (_outbound.Count >= OutboundQueueMax)
            return EndAt(op, SyncOpKind.Push, false, $"busy: {_outbound.Count} transfers to {_peerName} queued; try again");
        _ops[op] = new Op(SyncOpKind.Push, force, null, now);
        Enqueue(now, force ? TransferKind.ForcePush : TransferKind.Push, 0, _text, _local, ConfigHash.None, op);
        Pump(now);
        return op;
    }

    /// <summary>`config pull [--force]`: asks the peer for its config and applies it here; ends with this node's report.</summary>
    public long Pull(TimeSpan now, bool force) => Ask(now, SyncOpKind.Pull, RequestKind.Pull, force);

    /// <summary>`config diff`: the peer's config text (ends with it in <see cref="OperationEnded.Text"/>).</summary>
    public long Fetch(TimeSpan now) => Ask(now, SyncOpKind.Fetch, RequestKind.Fetch, force: false);

    private long Ask(TimeSpan now, SyncOpKind kind, RequestKind request, bool force)
    {
        long op = ++_nextOp;
        if (Unreachable() is { } why)
            return EndAt(op, kind, false, why);
        if (kind == SyncOpKind.Pull && _peer is { } p && p.Local.Hash == _local.Hash)
            return EndAt(op, kind, true, $"{_self} runs {_local} already, as {_peerName} does; nothing to pull");
        ulong id = _random();
        _ops[op] = new Op(kind, force, null, now) { RequestId = id, RequestKind = request, RequestSentAt = now };
        Send(new RequestMessage(id, request));
        return op;
    }

    private string? TooLarge() => _text.Length > _limits.MaxConfigBytes
        ? $"the config is {_text.Length} bytes, above the {_limits.MaxConfigBytes} bytes a transfer carries"
        : null;

    private string? Unreachable()
    {
        if (!_peerUp)
            return $"{_peerName} is not heard: no heartbeat link carries its frames";
        if (_peerWord == KeepaliveWord.NotReported)
            return $"{_peerName} does not report a config version: it runs firmware without config sync (or is starting)";
        return null;
    }

    /// <summary>Timers: retransmissions, delayed acknowledgements, requests, deadlines, the periodic announce.</summary>
    public void Tick(TimeSpan now)
    {
        if (_peerUp && _peerWord != KeepaliveWord.NotReported && now >= _nextAnnounce)
            Announce(now);
        foreach (var (id, t) in _inbound.ToArray())
        {
            if (now - t.LastActivity >= _limits.InboundIdleTimeout)
            {
                _inbound.Remove(id);
                _outbox.Add(new SyncNote(SyncNoteKind.TransferFailed,
                    $"receiving {KindName(t.Offer.Kind)} {id:x16} from {_peerName}: silent for {_limits.InboundIdleTimeout.TotalSeconds:0} s with {t.Received} of {t.Offer.FragmentCount} fragments; dropped"));
                FailOpOfReply(t.Offer.InReplyTo, $"{_peerName} stopped sending ({t.Received} of {t.Offer.FragmentCount} fragments)");
            }
            else if (t.AckDueAt is { } due && now >= due)
                Send(t.MakeAck());
        }
        foreach (var (op, o) in _ops.ToArray())
        {
            if (o.RequestId is { } rid && !o.Answered)
            {
                if (now - o.Started >= _limits.RequestTimeout)
                {
                    _ops.Remove(op);
                    End(op, o.Kind, false, $"{_peerName} did not answer the {o.RequestKind.ToString().ToLowerInvariant()} request within {_limits.RequestTimeout.TotalSeconds:0} s");
                }
                else if (now - o.RequestSentAt >= _limits.RequestRetry)
                {
                    o.RequestSentAt = now;
                    Send(new RequestMessage(rid, o.RequestKind));
                }
            }
            else if (o.AwaitingReportSince is { } since && now - since >= _limits.ApplyTimeout)
            {
                _ops.Remove(op);
                End(op, o.Kind, false, $"{_peerName} received the config but sent no report within {_limits.ApplyTimeout.TotalSeconds:0} s; " +
                    "it may or may not have applied it (see `config diff` and status)");
            }
        }
        Pump(now);
        MaybeReplicate(now, explicitCommit: false);
        NoteState();
    }

    public TimeSpan NextWake()
    {
        TimeSpan wake = TimeSpan.MaxValue;
        if (_peerUp && _peerWord != KeepaliveWord.NotReported)
            wake = Min(wake, _nextAnnounce);
        if (_outbound.Count > 0)
            wake = Min(wake, _outbound[0].Transfer.NextWake());
        foreach (var t in _inbound.Values)
        {
            wake = Min(wake, t.LastActivity + _limits.InboundIdleTimeout);
            if (t.AckDueAt is { } due)
                wake = Min(wake, due);
        }
        foreach (var o in _ops.Values)
        {
            if (o.RequestId is not null && !o.Answered)
                wake = Min(wake, Min(o.Started + _limits.RequestTimeout, o.RequestSentAt + _limits.RequestRetry));
            if (o.AwaitingReportSince is { } since)
                wake = Min(wake, since + _limits.ApplyTimeout);
        }
        return wake;
    }

    public SyncView View()
    {
        var state = State;
        TransferView? sending = _outbound.Count > 0 && !_outbound[0].Transfer.Complete
            ? new TransferView(_outbound[0].Transfer.Id, _outbound[0].Transfer.Offer.Kind, (int)_outbound[0].Transfer.Offer.TotalBytes,
                _outbound[0].Transfer.FragmentCount, _outbound[0].Transfer.AckedCount, _outbound[0].Transfer.Retransmissions)
            : null;
        var receiving = _inbound.Values.OrderBy(t => t.Offer.Kind == TransferKind.Result).FirstOrDefault() is { } t
            ? new TransferView(t.Id, t.Offer.Kind, (int)t.Offer.TotalBytes, t.Offer.FragmentCount, t.Received, 0)
            : null;
        return new SyncView(state, Detail(state), _local, _agreed, _peer?.Local, _peerWord, _peerUp, sending, receiving, _lastOutcome,
            _sent, _received, _retransmissions);
    }

    private string Detail(SyncState state)
    {
        if (!_peerUp)
            return $"{_peerName} is not heard";
        if (_peerWord == KeepaliveWord.NotReported)
            return $"{_peerName} reports no config version (firmware without config sync, or starting)";
        if (_peer is not { } p)
            return $"waiting for {_peerName}'s announce";
        string agreed = _agreed.IsNone ? "they never agreed" : $"they last agreed on {_agreed}";
        return state switch
        {
            SyncState.InSync => $"both run {_local}",
            SyncState.PeerNewer => $"{_peerName} runs {p.Local}, {_self} {_local} ({agreed}); {_peerName} sends it when it can, or `config pull`",
            SyncState.LocalNewer => $"{_self} runs {_local}, {_peerName} {p.Local} ({agreed}); replicating" +
                (_autoRefused == _local.Hash ? $" was refused by {_peerName}: `config push` to insist" : ""),
            SyncState.Diverged => $"{_self} runs {_local}, {_peerName} {p.Local}, and {agreed}: both changed, neither wins by itself; " +
                "`config diff`, then `config push` on the node whose config should win (the active node's serves now)",
            _ => "",
        };
    }

    // ------------------------------------------------------------------ messages in

    private void OnAnnounce(TimeSpan now, AnnounceMessage a)
    {
        _peer = a;
        if (a.Local.Hash == _local.Hash && (_agreed != _local || a.Local.Counter > _local.Counter))
        {
            // Both run the same bytes: that is what they agree on. The counter is the pair's: keep the higher.
            if (a.Local.Counter > _local.Counter)
                _local = a.Local;
            _agreed = _local;
            _outbox.Add(new StampsChanged(_local, _agreed, KeepaliveWord.Of(_local)));
            Announce(now);
        }
        MaybeReplicate(now, explicitCommit: false);
    }

    private void OnOffer(TimeSpan now, OfferMessage o)
    {
        if (_completed.Any(c => c.Id == o.TransferId))
        {
            Send(new AckMessage(o.TransferId, _completed.First(c => c.Id == o.TransferId).Count, 0, true));
            return;
        }
        if (_inbound.TryGetValue(o.TransferId, out var known))
        {
            Send(known.MakeAck());
            return;
        }
        int max = o.Kind == TransferKind.Result ? _limits.MaxResultBytes : _limits.MaxConfigBytes;
        if (o.TotalBytes > max)
        {
            Refuse(o.TransferId, CancelReason.TooLarge, $"{KindName(o.Kind)} of {o.TotalBytes} bytes is above the limit of {max} bytes");
            return;
        }
        if (o.FragmentCount != SyncLimits.FragmentCount((int)o.TotalBytes))
        {
            Refuse(o.TransferId, CancelReason.Malformed, $"{o.FragmentCount} fragments cannot carry {o.TotalBytes} bytes");
            return;
        }
        Op? answers = null;
        switch (o.Kind)
        {
            case TransferKind.Replicate when o.Expected != _local.Hash:
                Refuse(o.TransferId, CancelReason.Stale,
                    $"{_self} runs {_local}, not the config {_peerName}'s commit was based on ({o.Expected.Short}): " +
                    $"both changed, the configs diverged; `config diff`, then `config push` on the node whose config should win");
                return;
            case TransferKind.PullReply or TransferKind.FetchReply:
                answers = _ops.Values.FirstOrDefault(x => x.RequestId == o.InReplyTo);
                if (answers is null)
                {
                    Refuse(o.TransferId, CancelReason.Unsolicited, $"{_self} asked for nothing with id {o.InReplyTo:x16}");
                    return;
                }
                break;
        }
        if (o.Kind != TransferKind.Result && o.Kind != TransferKind.FetchReply && _applying.Count > 0)
        {
            Refuse(o.TransferId, CancelReason.Busy, $"{_self} is still applying the config {_peerName} sent before");
            return;
        }
        if (_inbound.Count >= _limits.InboundMax)
        {
            Refuse(o.TransferId, CancelReason.Busy, $"{_self} is receiving {_inbound.Count} transfers already");
            return;
        }
        if (answers is not null)
            answers.Answered = true;
        var t = new InboundTransfer(o, now);
        _inbound[o.TransferId] = t;
        if (o.Kind != TransferKind.Result)
            _outbox.Add(new SyncNote(SyncNoteKind.TransferStarted,
                $"receiving {KindName(o.Kind)} {o.Stamp} from {_peerName}: {o.TotalBytes} bytes in {o.FragmentCount} fragments"));
        Send(t.MakeAck());
        if (t.Complete)
            Completed(now, t);
    }

    private void OnFragment(TimeSpan now, FragmentMessage f)
    {
        if (!_inbound.TryGetValue(f.TransferId, out var t))
        {
            foreach (var c in _completed)
                if (c.Id == f.TransferId)
                {
                    Send(new AckMessage(c.Id, c.Count, 0, true)); // our completion ack was lost
                    return;
                }
            return; // of a transfer refused, dropped or never offered
        }
        var outcome = t.OnFragment(now, f, _limits, out bool ackNow);
        if (outcome == FragmentOutcome.Invalid)
        {
            _outbox.Add(new SyncNote(SyncNoteKind.Protocol, $"fragment {f.Index} of transfer {f.TransferId:x16} does not fit its offer; dropped"));
            return;
        }
        if (t.AllReceived && !t.HashMatches)
        {
            _inbound.Remove(t.Id);
            Refuse(t.Id, CancelReason.HashMismatch, $"the {t.Offer.TotalBytes} bytes received do not hash to {t.Offer.TotalHash.Short}");
            FailOpOfReply(t.Offer.InReplyTo, $"what {_peerName} sent did not hash to what it announced");
            return;
        }
        if (ackNow)
            Send(t.MakeAck());
        if (t.Complete)
            Completed(now, t);
    }

    private void Completed(TimeSpan now, InboundTransfer t)
    {
        _inbound.Remove(t.Id);
        _completed.Enqueue((t.Id, (ushort)t.Offer.FragmentCount));
        while (_completed.Count > _limits.CompletedRemembered)
            _completed.Dequeue();
        _received++;
        var o = t.Offer;
        switch (o.Kind)
        {
            case TransferKind.Result:
                OnReport(now, o, ApplyReport.Decode(t.Data.Span));
                return;
            case TransferKind.FetchReply:
            {
                var op = _ops.FirstOrDefault(x => x.Value.RequestId == o.InReplyTo);
                if (op.Value is not null)
                {
                    _ops.Remove(op.Key);
                    End(op.Key, SyncOpKind.Fetch, true, $"{_peerName} runs {o.Stamp}", text: t.Data.ToArray());
                }
                return;
            }
        }
        _outbox.Add(new SyncNote(SyncNoteKind.TransferCompleted, $"received {KindName(o.Kind)} {o.Stamp} from {_peerName} ({o.TotalBytes} bytes)"));
        long? owner = null;
        bool force = o.Kind == TransferKind.ForcePush;
        if (o.Kind == TransferKind.PullReply)
        {
            var op = _ops.FirstOrDefault(x => x.Value.RequestId == o.InReplyTo);
            if (op.Value is null)
                return; // the pull timed out meanwhile
            owner = op.Key;
            force = op.Value.Force;
        }
        var text = t.Data.ToArray();
        _applying[t.Id] = new PendingApply(o.Kind, o.Stamp, text, owner);
        _outbox.Add(new ApplyRequested(t.Id, o.Kind, force, text, o.Stamp, o.Kind == TransferKind.Replicate ? o.Expected : ConfigHash.None));
    }

    private void OnReport(TimeSpan now, OfferMessage o, ApplyReport? report)
    {
        if (report is null)
        {
            _outbox.Add(new SyncNote(SyncNoteKind.Protocol, $"the report of transfer {o.InReplyTo:x16} from {_peerName} could not be decoded"));
            return;
        }
        var entry = _ops.FirstOrDefault(x => x.Value.TransferId == o.InReplyTo);
        string outcome = ApplyReport.OutcomeName(report.Outcome);
        var ours = _recentSent.FirstOrDefault(x => x.Id == o.InReplyTo);
        string what = ours.Id == o.InReplyTo && ours.Id != 0 ? $"{KindName(ours.Kind)} {ours.Stamp}" : $"transfer {o.InReplyTo:x16}";
        string line = $"{what} to {_peerName}: {outcome}" +
            (report.Message.Length > 0 ? ": " + report.Message : "");
        _lastOutcome = line;
        _outbox.Add(new SyncNote(SyncNoteKind.Reported, line));
        if (entry.Value is not { } op)
            return; // a late report: logged above
        _ops.Remove(entry.Key);
        if (report.Applied)
        {
            if (op.Stamp is { } sent && sent.Hash == _local.Hash)
            {
                _agreed = _local;
                _outbox.Add(new StampsChanged(_local, _agreed, KeepaliveWord.Of(_local)));
            }
        }
        else if (op.Kind == SyncOpKind.Replicate && op.Stamp is { } refused)
            _autoRefused = refused.Hash;
        End(entry.Key, op.Kind, report.Applied, line, report: report);
    }

    private void OnAck(TimeSpan now, AckMessage a)
    {
        var entry = _outbound.FirstOrDefault(x => x.Transfer.Id == a.TransferId);
        if (entry is null)
            return;
        entry.Transfer.OnAck(now, a);
        if (entry.Transfer.Complete)
            OutboundDone(now, entry);
    }

    private void OnRequest(TimeSpan now, RequestMessage r)
    {
        if (r.Kind == RequestKind.Announce)
        {
            Announce(now);
            return;
        }
        if (_served.Contains(r.RequestId))
            return; // a repeat while the reply is on its way
        if (_outbound.Count >= OutboundQueueMax)
        {
            Refuse(r.RequestId, CancelReason.Busy, $"{_self} has {_outbound.Count} transfers queued; try again");
            return;
        }
        if (TooLarge() is { } large)
        {
            Refuse(r.RequestId, CancelReason.TooLarge, large);
            return;
        }
        _served.Enqueue(r.RequestId);
        while (_served.Count > ServedRequestsRemembered)
            _served.Dequeue();
        Enqueue(now, r.Kind == RequestKind.Pull ? TransferKind.PullReply : TransferKind.FetchReply, r.RequestId, _text, _local, ConfigHash.None, op: null);
    }

    private void OnCancel(TimeSpan now, CancelMessage c)
    {
        var entry = _outbound.FirstOrDefault(x => x.Transfer.Id == c.Id);
        if (entry is not null)
        {
            entry.Transfer.Cancelled($"{_peerName} refused it: {c.Text}");
            OutboundDone(now, entry);
            return;
        }
        var op = _ops.FirstOrDefault(x => x.Value.RequestId == c.Id);
        if (op.Value is not null)
        {
            _ops.Remove(op.Key);
            _outbox.Add(new SyncNote(SyncNoteKind.Refused, $"{_peerName} refused the {op.Value.RequestKind.ToString().ToLowerInvariant()} request: {c.Text}"));
            End(op.Key, op.Value.Kind, false, $"{_peerName} refused: {c.Text}");
            return;
        }
        if (_inbound.Remove(c.Id, out var t))
        {
            _outbox.Add(new SyncNote(SyncNoteKind.TransferFailed, $"{_peerName} abandoned {KindName(t.Offer.Kind)} {c.Id:x16}: {c.Text}"));
            FailOpOfReply(t.Offer.InReplyTo, $"{_peerName} abandoned its reply: {c.Text}");
        }
    }

    // ------------------------------------------------------------------ sending

    private void Enqueue(TimeSpan now, TransferKind kind, ulong inReplyTo, ReadOnlyMemory<byte> data, ConfigStamp stamp, ConfigHash expected, long? op)
    {
        ulong id = _random();
        var offer = new OfferMessage(id, kind, inReplyTo, (uint)data.Length, (ushort)SyncLimits.FragmentCount(data.Length),
            ConfigHash.Of(data.Span), stamp, expected);
        var transfer = new OutboundTransfer(offer, data, _limits, now);
        if (kind != TransferKind.Result)
        {
            _recentSent.Enqueue((id, kind, stamp));
            while (_recentSent.Count > ServedRequestsRemembered)
                _recentSent.Dequeue();
        }
        _outbound.Add(new Outbound(transfer, op));
        if (op is { } o && _ops.TryGetValue(o, out var entry))
        {
            entry.TransferId = id;
            entry.Stamp = stamp;
        }
        if (kind != TransferKind.Result)
            _outbox.Add(new SyncNote(SyncNoteKind.TransferStarted,
                $"sending {KindName(kind)} {stamp} to {_peerName}: {data.Length} bytes in {offer.FragmentCount} fragments"));
    }

    private void Pump(TimeSpan now)
    {
        while (_outbound.Count > 0)
        {
            var head = _outbound[0];
            _scratch.Clear();
            int before = head.Transfer.Retransmissions;
            head.Transfer.Pump(now, _scratch);
            _retransmissions += head.Transfer.Retransmissions - before;
            foreach (var m in _scratch)
                Send(m);
            if (head.Transfer.Failed || head.Transfer.Complete)
            {
                OutboundDone(now, head);
                continue;
            }
            break;
        }
    }

    private void OutboundDone(TimeSpan now, Outbound entry)
    {
        if (!_outbound.Remove(entry))
            return;
        var t = entry.Transfer;
        var kind = t.Offer.Kind;
        if (t.Failed)
        {
            string line = $"sending {KindName(kind)} {t.Offer.Stamp} to {_peerName} failed: {t.Failure}";
            _outbox.Add(new SyncNote(t.Failure.StartsWith(_peerName + " refused", StringComparison.Ordinal) ? SyncNoteKind.Refused : SyncNoteKind.TransferFailed, line));
            if (kind != TransferKind.Result)
                _lastOutcome = line;
            if (entry.Op is { } op && _ops.Remove(op, out var o))
            {
                if (o.Kind == SyncOpKind.Replicate && t.Failure.StartsWith(_peerName + " refused", StringComparison.Ordinal))
                    _autoRefused = t.Offer.Stamp.Hash;
                End(op, o.Kind, false, line);
            }
        }
        else
        {
            _sent++;
            if (kind != TransferKind.Result)
                _outbox.Add(new SyncNote(SyncNoteKind.TransferCompleted,
                    $"sent {KindName(kind)} {t.Offer.Stamp} to {_peerName}: {t.Offer.TotalBytes} bytes, {t.FragmentCount} fragments, {t.Retransmissions} retransmitted"));
            if (entry.Op is { } op && _ops.TryGetValue(op, out var o))
                o.AwaitingReportSince = now; // the peer validates and applies; its report ends the operation
        }
        Pump(now);
    }

    private void Announce(TimeSpan now)
    {
        _nextAnnounce = now + _limits.AnnounceInterval;
        if (!_peerUp || _peerWord == KeepaliveWord.NotReported)
            return;
        Send(new AnnounceMessage(_local, _agreed, (uint)_text.Length));
    }

    private void Send(SyncMessage m) => _outbox.Add(new SendMessage(m));

    private void Refuse(ulong id, CancelReason reason, string text)
    {
        _outbox.Add(new SyncNote(SyncNoteKind.Refused, $"refused {id:x16} from {_peerName}: {text}"));
        Send(new CancelMessage(id, reason, text));
    }

    /// <summary>Replicates the local config when the peer still runs what the two agreed on (a commit here, or a heal after one).</summary>
    private ReplicationStart MaybeReplicate(TimeSpan now, bool explicitCommit)
    {
        var state = State;
        if (state != SyncState.LocalNewer)
        {
            string why = state switch
            {
                SyncState.Unknown => Unreachable() ?? $"{_peerName} has not announced its config yet",
                SyncState.InSync => $"{_peerName} runs {_local} already",
                SyncState.PeerNewer => $"{_peerName} runs a newer config",
                SyncState.Diverged => $"not replicated: {Detail(state)}",
                _ => "",
            };
            return new ReplicationStart(null, why);
        }
        if (_outbound.Any(o => o.Transfer.Offer.Kind is TransferKind.Replicate or TransferKind.Push or TransferKind.ForcePush
                && o.Transfer.Offer.Stamp.Hash == _local.Hash))
            return new ReplicationStart(null, $"{_local} is being sent to {_peerName} already");
        if (_ops.Values.Any(o => o.Kind is SyncOpKind.Replicate or SyncOpKind.Push && o.Stamp?.Hash == _local.Hash))
            return new ReplicationStart(null, $"{_peerName} has {_local} and is applying it");
        if (TooLarge() is { } large)
            return new ReplicationStart(null, "not replicated: " + large);
        if (!explicitCommit && _autoRefused == _local.Hash)
            return new ReplicationStart(null, $"{_peerName} refused {_local}; `config push` to insist");
        if (_outbound.Count >= OutboundQueueMax)
            return new ReplicationStart(null, $"busy: {_outbound.Count} transfers to {_peerName} queued; it follows when they end");
        // Abandon an older replication still queued: only the newest config matters.
        foreach (var stale in _outbound.Where(o => o.Transfer.Offer.Kind == TransferKind.Replicate).ToArray())
        {
            stale.Transfer.Cancelled($"superseded by {_local}");
            Send(new CancelMessage(stale.Transfer.Id, CancelReason.Abandoned, $"superseded by {_local}"));
            OutboundDone(now, stale);
        }
        long op = ++_nextOp;
        _ops[op] = new Op(SyncOpKind.Replicate, false, null, now);
        Enqueue(now, TransferKind.Replicate, 0, _text, _local, _agreed.Hash, op);
        Pump(now);
        return new ReplicationStart(op, $"replicating {_local} to {_peerName}");
    }

    private void PeerLost(TimeSpan now)
    {
        foreach (var entry in _outbound.ToArray())
        {
            entry.Transfer.Cancelled($"{_peerName} is no longer heard");
            OutboundDone(now, entry);
        }
        foreach (var t in _inbound.Values)
            FailOpOfReply(t.Offer.InReplyTo, $"{_peerName} is no longer heard");
        _inbound.Clear();
        foreach (var (op, o) in _ops.ToArray())
        {
            _ops.Remove(op);
            End(op, o.Kind, false, o.AwaitingReportSince is null
                ? $"{_peerName} is no longer heard"
                : $"{_peerName} is no longer heard; it received the config but its report did not come (see status when it is back)");
        }
    }

    private void FailOpOfReply(ulong requestId, string why)
    {
        var op = _ops.FirstOrDefault(x => x.Value.RequestId == requestId);
        if (op.Value is null)
            return;
        _ops.Remove(op.Key);
        End(op.Key, op.Value.Kind, false, why);
    }

    private long EndAt(long op, SyncOpKind kind, bool ok, string message)
    {
        End(op, kind, ok, message);
        return op;
    }

    private void End(long op, SyncOpKind kind, bool ok, string message, ReadOnlyMemory<byte>? text = null, ApplyReport? report = null) =>
        _outbox.Add(new OperationEnded(op, kind, ok, message, text, report));

    private void NoteState()
    {
        var state = State;
        if (state == _lastState)
            return;
        _lastState = state;
        _outbox.Add(new SyncNote(SyncNoteKind.StateChanged, $"config {SyncJudge.Name(state)}: {Detail(state)}"));
    }

    public static string KindName(TransferKind kind) => kind switch
    {
        TransferKind.Replicate => "replication of",
        TransferKind.Push => "push of",
        TransferKind.ForcePush => "forced push of",
        TransferKind.PullReply => "pulled config",
        TransferKind.FetchReply => "config text",
        _ => "apply report",
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private sealed record Outbound(OutboundTransfer Transfer, long? Op);

    private sealed record PendingApply(TransferKind Kind, ConfigStamp Stamp, byte[] Text, long? Op);

    private sealed class Op(SyncOpKind kind, bool force, ulong? transferId, TimeSpan started)
    {
        public SyncOpKind Kind { get; } = kind;
        public bool Force { get; } = force;
        public ulong? TransferId { get; set; } = transferId;
        public ConfigStamp? Stamp { get; set; }
        public TimeSpan Started { get; } = started;
        public ulong? RequestId { get; init; }
        public RequestKind RequestKind { get; init; }
        public TimeSpan RequestSentAt { get; set; }
        public bool Answered { get; set; }
        public TimeSpan? AwaitingReportSince { get; set; }
    }
}
