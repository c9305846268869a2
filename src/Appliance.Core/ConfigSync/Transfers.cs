using System.Buffers.Binary;
using System.Text;

namespace Appliance.Core.ConfigSync;

/// <summary>The bounds and timers of config sync. Each says where its number comes from.</summary>
public sealed record SyncLimits
{
    public static readonly SyncLimits Default = new();

    /// <summary>Largest config sent or accepted: 1482 fragments; a big director config (a thousand real servers) is about 60 KiB.</summary>
    public int MaxConfigBytes { get; init; } = 256 * 1024;

    /// <summary>Largest apply report (the checker's errors, the paths that need a restart).</summary>
    public int MaxResultBytes { get; init; } = 16 * 1024;

    /// <summary>
    /// Fragments sent and not yet acknowledged: 16 x 256 bytes is 4 KiB, a third of a second of a
    /// 115200-baud line, so over serial the first acknowledgement comes back well within <see cref="InitialRto"/>.
    /// </summary>
    public int Window { get; init; } = 16;

    /// <summary>Retransmission timeout before any round trip was measured (it must cover a serial window, see <see cref="Window"/>).</summary>
    public TimeSpan InitialRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Floor of the measured timeout. Over UDP a round trip is a few ms, but over serial a fragment
    /// waits its turn behind the keepalives (<see cref="SerialPacer"/>): a window takes about half a
    /// second to leave at 115200 baud, so a lower floor retransmits what is only queued. A real loss
    /// below the highest fragment acknowledged is resent at once anyway (fast retransmit).
    /// </summary>
    public TimeSpan MinRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Ceiling of the backed-off timeout.</summary>
    public TimeSpan MaxRto { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>A transfer with no acknowledged progress for this long is abandoned.</summary>
    public TimeSpan ProgressTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// After the whole config arrived, how long its sender waits for the peer's apply report: the
    /// director's reload of a large ruleset takes seconds; the control socket's client waits longer.
    /// </summary>
    public TimeSpan ApplyTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>A half-received transfer whose sender went quiet this long is dropped.</summary>
    public TimeSpan InboundIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The receiver acknowledges after this many new fragments (and at once on a gap, a duplicate or the end).</summary>
    public int AckEvery { get; init; } = 8;

    /// <summary>... or this long after the first unacknowledged one.</summary>
    public TimeSpan AckDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often a node repeats its announce (it also sends one on every change and when asked).</summary>
    public TimeSpan AnnounceInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A request (pull, fetch, announce) is repeated this often until its answer starts.</summary>
    public TimeSpan RequestRetry { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A request whose answer has not started by then fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Transfers received in full that are remembered, to acknowledge a late retransmission again instead of starting over.</summary>
    public int CompletedRemembered { get; init; } = 8;

    /// <summary>Transfers received at once: a config and an apply report may cross.</summary>
    public int InboundMax { get; init; } = 2;

    public int MaxFragments(TransferKind kind) => FragmentCount(kind == TransferKind.Result ? MaxResultBytes : MaxConfigBytes);

    public static int FragmentCount(int bytes) => (bytes + FragmentMessage.MaxDataBytes - 1) / FragmentMessage.MaxDataBytes;
}

/// <summary>
/// Sends one transfer: the offer until the peer acknowledges it, then the fragments in a window,
/// retransmitting what is not acknowledged within the timeout (measured round trips, Karn's rule:
/// no sample from a retransmitted fragment; doubled on each expiry up to <see cref="SyncLimits.MaxRto"/>).
/// Sans-I/O: <see cref="Pump"/> returns the messages to send now, <see cref="NextWake"/> when to pump again.
/// </summary>
public sealed class OutboundTransfer
{
    private readonly SyncLimits _limits;
    private readonly ReadOnlyMemory<byte> _data;
    private readonly bool[] _acked;
    private readonly TimeSpan[] _sentAt;
    private readonly bool[] _resent;
    private readonly bool[] _hole;
    private int _lowestUnacked;
    private readonly int _count;
    private int _ackedCount;
    private int _nextNew;
    private bool _offerSent;
    private bool _offerResent;
    private TimeSpan _offerSentAt;
    private TimeSpan _rto;
    private TimeSpan? _srtt;
    private TimeSpan _lastProgress;

    public OutboundTransfer(OfferMessage offer, ReadOnlyMemory<byte> data, SyncLimits limits, TimeSpan now)
    {
        if (data.Length != offer.TotalBytes || SyncLimits.FragmentCount(data.Length) != offer.FragmentCount)
            throw new ArgumentException("the offer does not describe the data", nameof(offer));
        Offer = offer;
        _data = data;
        _limits = limits;
        _count = offer.FragmentCount;
        _acked = new bool[_count];
        _sentAt = new TimeSpan[_count];
        _resent = new bool[_count];
        _hole = new bool[_count];
        _rto = limits.InitialRto;
        _lastProgress = now;
        StartedAt = now;
    }

    public OfferMessage Offer { get; }

    public ulong Id => Offer.TransferId;

    public TimeSpan StartedAt { get; }

    public bool OfferAcked { get; private set; }

    /// <summary>The receiver has every fragment and the whole hashed right.</summary>
    public bool Complete { get; private set; }

    /// <summary>Why the transfer failed (empty while it has not).</summary>
    public string Failure { get; private set; } = "";

    public bool Failed => Failure.Length > 0;

    public int FragmentCount => _count;

    public int AckedCount => _ackedCount;

    /// <summary>Fragments sent again (loss, reordering, a timeout shorter than the path).</summary>
    public int Retransmissions { get; private set; }

    public TimeSpan Rto => _rto;

    /// <summary>The receiver refused or abandoned it.</summary>
    public void Cancelled(string why)
    {
        if (!Complete && !Failed)
            Failure = why;
    }

    public void Pump(TimeSpan now, List<SyncMessage> outbox)
    {
        if (Complete || Failed)
            return;
        if (now - _lastProgress >= _limits.ProgressTimeout)
        {
            Failure = $"no answer from the peer for {_limits.ProgressTimeout.TotalSeconds:0} s ({_ackedCount} of {_count} fragments acknowledged)";
            return;
        }
        if (!OfferAcked)
        {
            if (!_offerSent || now - _offerSentAt >= _rto)
            {
                if (_offerSent)
                {
                    Backoff();
                    _offerResent = true;
                }
                _offerSent = true;
                _offerSentAt = now;
                outbox.Add(Offer);
            }
            return;
        }
        // Retransmit what the receiver reported missing (a hole below fragments it holds) without
        // waiting, and what timed out (one backoff per pump that found any).
        bool expired = false;
        int inFlight = 0;
        for (int i = _lowestUnacked; i < _nextNew; i++)
        {
            if (_acked[i])
                continue;
            bool timedOut = now - _sentAt[i] >= _rto;
            if (timedOut || _hole[i])
            {
                expired |= timedOut && !_hole[i];
                _hole[i] = false;
                _resent[i] = true;
                _sentAt[i] = now;
                Retransmissions++;
                outbox.Add(Fragment(i));
            }
            inFlight++;
        }
        if (expired)
            Backoff();
        // New fragments while the window has room, and never further ahead of the oldest missing one
        // than an acknowledgement can describe (cumulative + 64), or their acks could not be read.
        while (inFlight < _limits.Window && _nextNew < _count && _nextNew <= _lowestUnacked + AckSpan)
        {
            _sentAt[_nextNew] = now;
            outbox.Add(Fragment(_nextNew));
            _nextNew++;
            inFlight++;
        }
    }

    /// <summary>How far past the cumulative point an acknowledgement reaches: its selective map's 64 bits.</summary>
    private const int AckSpan = 64;

    public void OnAck(TimeSpan now, AckMessage ack)
    {
        if (ack.TransferId != Id || Complete || Failed)
            return;
        if (!OfferAcked)
        {
            OfferAcked = true;
            _lastProgress = now;
            if (_offerSent)
                Sample(now - _offerSentAt, _offerResent);
        }
        int cumulative = Math.Min(ack.Cumulative, _count);
        for (int i = 0; i < cumulative; i++)
            MarkAcked(now, i);
        for (int b = 0; b < 64; b++)
        {
            int i = cumulative + 1 + b;
            if (i >= _count)
                break;
            if ((ack.Selective & (1UL << b)) != 0)
                MarkAcked(now, i);
        }
        // Fast retransmit: a fragment below the highest one the receiver holds, sent more than two round
        // trips ago, was lost (not merely overtaken): send it again at the next pump.
        if (ack.Selective != 0 && _srtt is { } srtt)
        {
            int highest = cumulative + 1 + (63 - System.Numerics.BitOperations.LeadingZeroCount(ack.Selective));
            for (int i = cumulative; i < highest && i < _nextNew; i++)
                if (!_acked[i] && now - _sentAt[i] > srtt * 2)
                    _hole[i] = true;
        }
        while (_lowestUnacked < _count && _acked[_lowestUnacked])
            _lowestUnacked++;
        if (ack.Complete)
        {
            if (_ackedCount == _count)
                Complete = true;
            else
                Failure = "the peer said complete before it had every fragment (a bug)";
        }
    }

    private void MarkAcked(TimeSpan now, int i)
    {
        if (_acked[i] || i >= _nextNew)
            return;
        _acked[i] = true;
        _ackedCount++;
        _lastProgress = now;
        Sample(now - _sentAt[i], _resent[i]);
    }

    private void Sample(TimeSpan rtt, bool resent)
    {
        if (resent)
            return; // Karn: an ack of a retransmitted fragment may belong to either send
        _srtt = _srtt is { } s ? (s * 7 + rtt) / 8 : rtt;
        var rto = _srtt.Value * 2 + TimeSpan.FromMilliseconds(50);
        _rto = rto < _limits.MinRto ? _limits.MinRto : rto > _limits.MaxRto ? _limits.MaxRto : rto;
    }

    private void Backoff()
    {
        var doubled = _rto * 2;
        _rto = doubled > _limits.MaxRto ? _limits.MaxRto : doubled;
    }

    private FragmentMessage Fragment(int i)
    {
        int offset = i * FragmentMessage.MaxDataBytes;
        int length = Math.Min(FragmentMessage.MaxDataBytes, _data.Length - offset);
        return new FragmentMessage(Id, (ushort)i, _data.Slice(offset, length));
    }

    public TimeSpan NextWake()
    {
        if (Complete || Failed)
            return TimeSpan.MaxValue;
        TimeSpan wake = _lastProgress + _limits.ProgressTimeout;
        if (!OfferAcked)
            return Min(wake, _offerSentAt + _rto);
        int inFlight = 0;
        for (int i = _lowestUnacked; i < _nextNew; i++)
        {
            if (_acked[i])
                continue;
            inFlight++;
            if (_hole[i])
                return TimeSpan.Zero;
            wake = Min(wake, _sentAt[i] + _rto);
        }
        if (_nextNew < _count && inFlight < _limits.Window && _nextNew <= _lowestUnacked + AckSpan)
            return TimeSpan.Zero; // room in the window: pump now
        return wake;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

public enum FragmentOutcome
{
    /// <summary>A fragment not held before.</summary>
    New,
    /// <summary>Held already (a retransmission crossed an acknowledgement).</summary>
    Duplicate,
    /// <summary>Its index or length does not fit the offer: dropped.</summary>
    Invalid,
}

/// <summary>
/// Receives one transfer: keeps fragments in any order, acknowledges cumulatively with a 64-fragment
/// selective map, and checks the SHA-256 of the whole. Its buffer is the offer's size, which the
/// engine bounded before creating it.
/// </summary>
public sealed class InboundTransfer
{
    private readonly byte[] _data;
    private readonly bool[] _have;
    private int _haveCount;
    private int _cumulative;
    private int _unacked;

    public InboundTransfer(OfferMessage offer, TimeSpan now)
    {
        Offer = offer;
        _data = new byte[offer.TotalBytes];
        _have = new bool[offer.FragmentCount];
        LastActivity = now;
        if (offer.FragmentCount == 0)
            Verify();
    }

    public OfferMessage Offer { get; }

    public ulong Id => Offer.TransferId;

    public TimeSpan LastActivity { get; private set; }

    /// <summary>When an acknowledgement is due although <see cref="SyncLimits.AckEvery"/> was not reached.</summary>
    public TimeSpan? AckDueAt { get; private set; }

    public int Received => _haveCount;

    public bool AllReceived => _haveCount == _have.Length;

    /// <summary>Every fragment is here and the whole hashed to the offer's hash.</summary>
    public bool Complete { get; private set; }

    public ReadOnlyMemory<byte> Data => _data;

    public FragmentOutcome OnFragment(TimeSpan now, FragmentMessage f, SyncLimits limits, out bool ackNow)
    {
        ackNow = false;
        int count = _have.Length;
        if (f.Index >= count)
            return FragmentOutcome.Invalid;
        int offset = f.Index * FragmentMessage.MaxDataBytes;
        int expected = Math.Min(FragmentMessage.MaxDataBytes, _data.Length - offset);
        if (f.Data.Length != expected)
            return FragmentOutcome.Invalid;
        LastActivity = now;
        if (_have[f.Index])
        {
            ackNow = true; // the sender retransmits: tell it what we hold
            return FragmentOutcome.Duplicate;
        }
        f.Data.Span.CopyTo(_data.AsSpan(offset));
        _have[f.Index] = true;
        _haveCount++;
        bool gap = f.Index > _cumulative;
        while (_cumulative < count && _have[_cumulative])
            _cumulative++;
        _unacked++;
        if (AllReceived)
            Verify();
        ackNow = gap || AllReceived || _unacked >= limits.AckEvery;
        if (!ackNow && AckDueAt is null)
            AckDueAt = now + limits.AckDelay;
        return FragmentOutcome.New;
    }

    /// <summary>The acknowledgement of what is held now (resets the delayed-ack timer).</summary>
    public AckMessage MakeAck()
    {
        _unacked = 0;
        AckDueAt = null;
        ulong selective = 0;
        for (int b = 0; b < 64; b++)
        {
            int i = _cumulative + 1 + b;
            if (i >= _have.Length)
                break;
            if (_have[i])
                selective |= 1UL << b;
        }
        return new AckMessage(Id, (ushort)_cumulative, selective, Complete);
    }

    /// <summary>False when every fragment arrived but the whole does not hash to the offer's hash.</summary>
    public bool HashMatches { get; private set; } = true;

    private void Verify()
    {
        HashMatches = ConfigHash.Of(_data) == Offer.TotalHash;
        Complete = HashMatches;
    }
}

public enum ApplyOutcome : byte
{
    /// <summary>Validated, written and applied live.</summary>
    Applied = 1,
    /// <summary>Validated and written; part of it waits for a restart of applianced (listed).</summary>
    RestartNeeded = 2,
    /// <summary>The receiver ran this config already.</summary>
    Unchanged = 3,
    /// <summary>Not applied: the checker's errors, a protected change without force, or a stale base. The old config stays.</summary>
    Refused = 4,
}

/// <summary>
/// What the receiver of a config did with it, sent back as a <see cref="TransferKind.Result"/> transfer:
/// 1 outcome, 36 the receiver's stamp now, then the UTF-8 message.
/// </summary>
public sealed record ApplyReport(ApplyOutcome Outcome, ConfigStamp Now, string Message)
{
    public bool Applied => Outcome is ApplyOutcome.Applied or ApplyOutcome.RestartNeeded or ApplyOutcome.Unchanged;

    public static string OutcomeName(ApplyOutcome o) => o switch
    {
        ApplyOutcome.Applied => "applied",
        ApplyOutcome.RestartNeeded => "applied, restart needed",
        ApplyOutcome.Unchanged => "unchanged",
        _ => "refused",
    };

    public byte[] Encode(int maxBytes)
    {
        var text = Encoding.UTF8.GetBytes(Message);
        int length = Math.Min(37 + text.Length, maxBytes);
        var b = new byte[length];
        b[0] = (byte)Outcome;
        SyncWire.WriteStamp(b.AsSpan(1), Now);
        text.AsSpan(0, length - 37).CopyTo(b.AsSpan(37));
        return b;
    }

    public static ApplyReport? Decode(ReadOnlySpan<byte> b)
    {
        if (b.Length < 37 || b[0] is < (byte)ApplyOutcome.Applied or > (byte)ApplyOutcome.Refused)
            return null;
        return new ApplyReport((ApplyOutcome)b[0], SyncWire.ReadStamp(b[1..]), Encoding.UTF8.GetString(b[37..]));
    }
}
