using Appliance.Core.Heartbeat;

namespace Appliance.Core.ConfigSync;

/// <summary>
/// Decides when a sync message may go out on a serial link without delaying a keepalive. A serial
/// line is a queue: bytes written wait behind the bytes before them, at the line's rate (10 bits a
/// byte: 115200 baud is 11.5 bytes/ms). The pacer models that queue from every write (keepalives and
/// sync messages) and lets a sync message go only when the queue is empty and the message will have
/// left the line <see cref="Guard"/> before the next keepalive is due, so a scheduled keepalive
/// never waits behind config bytes. A keepalive sent out of cadence (a role change) can wait behind
/// at most the one message on the line: 23 ms for the largest at 115200 baud.
/// The next keepalive is predicted from the interval between the last two (the link's own cadence,
/// whatever set it); a keepalive sent early makes the prediction early, which only makes the pacer wait.
/// Sans-I/O; the heartbeat thread calls it.
/// </summary>
public sealed class SerialPacer
{
    /// <summary>Slack between the end of a sync message on the line and the next keepalive: the heartbeat thread's wake-up jitter.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromMilliseconds(2);

    private readonly double _bytesPerSecond;
    private readonly TimeSpan _defaultInterval;
    private TimeSpan _lineFreeAt;
    private TimeSpan? _lastKeepalive;
    private TimeSpan? _interval;

    /// <param name="baud">The line's rate in bits per second.</param>
    /// <param name="keepalive">The configured keepalive interval: the prediction until two keepalives were seen.</param>
    public SerialPacer(int baud, TimeSpan keepalive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(baud, 50);
        _bytesPerSecond = baud / 10.0;
        _defaultInterval = keepalive;
    }

    /// <summary>How long <paramref name="payloadBytes"/> of payload take on the line once framed (COBS, CRC, delimiters).</summary>
    public TimeSpan WireTime(int payloadBytes) => TimeSpan.FromSeconds(SerialFraming.EncodedLength(payloadBytes) / _bytesPerSecond);

    /// <summary>When the keepalive after the last one is due (by the link's observed cadence).</summary>
    public TimeSpan NextKeepaliveDue => _lastKeepalive is { } last ? last + (_interval ?? _defaultInterval) : TimeSpan.Zero;

    /// <summary>When the bytes written so far will have left the line.</summary>
    public TimeSpan LineFreeAt => _lineFreeAt;

    /// <summary>A keepalive of <paramref name="payloadBytes"/> was written at <paramref name="now"/>.</summary>
    public void KeepaliveWritten(TimeSpan now, int payloadBytes)
    {
        if (_lastKeepalive is { } last && now > last)
            _interval = now - last;
        _lastKeepalive = now;
        Written(now, payloadBytes);
    }

    /// <summary>A sync message of <paramref name="payloadBytes"/> was written at <paramref name="now"/>.</summary>
    public void Written(TimeSpan now, int payloadBytes) =>
        _lineFreeAt = (now > _lineFreeAt ? now : _lineFreeAt) + WireTime(payloadBytes);

    /// <summary>True when a message of <paramref name="payloadBytes"/> may be written now.</summary>
    public bool MaySend(TimeSpan now, int payloadBytes)
    {
        if (_lastKeepalive is null)
            return false; // no cadence seen yet: the first keepalive goes first
        if (now < _lineFreeAt)
            return false;
        return now + WireTime(payloadBytes) + Guard <= NextKeepaliveDue;
    }

    /// <summary>
    /// When a message that may not go now could: when the line drains, if that is still before the
    /// keepalive's slot closes; otherwise after the next keepalive (its own wake-up), so never.
    /// </summary>
    public TimeSpan NextChance(TimeSpan now, int payloadBytes)
    {
        if (_lastKeepalive is null)
            return TimeSpan.MaxValue;
        if (now < _lineFreeAt && _lineFreeAt + WireTime(payloadBytes) + Guard <= NextKeepaliveDue)
            return _lineFreeAt;
        return TimeSpan.MaxValue;
    }
}
