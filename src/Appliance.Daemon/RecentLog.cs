using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The latest log lines of this process, kept in memory for the console's `show log` (the journal is
/// not on every machine the daemon runs on: the lab writes files). One per process: the daemon asks
/// its heartbeat worker for the worker's lines and merges them by time. Cheap on the calling thread,
/// which may be the real-time heartbeat thread: one formatted string into a lock-free queue, the
/// oldest dropped past <see cref="MaxLines"/>.
/// </summary>
internal sealed class RecentLog(string process, TimeProvider? time = null) : ILoggerProvider
{
    /// <summary>Lines kept per process: a few screens of recent events, bounded memory.</summary>
    public const int MaxLines = 500;

    /// <summary>Longest line kept; a longer message (a reload listing many changes) is cut.</summary>
    public const int MaxLineChars = 400;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>The kept lines, oldest first; each starts with its UTC time (yyyy-MM-dd HH:mm:ss.fff), so lines of two processes sort by time.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    private void Add(LogLevel level, string message)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{_time.GetUtcNow().UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} {Level(level)} {process}: {message}");
        if (line.Length > MaxLineChars)
            line = line[..(MaxLineChars - 3)] + "...";
        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _))
        {
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    /// <summary>The last <paramref name="count"/> lines of several processes, by time.</summary>
    public static List<string> Merge(int count, params IEnumerable<string>[] sources) =>
        sources.SelectMany(s => s).Order(StringComparer.Ordinal).TakeLast(count).ToList();

    public void Dispose()
    {
    }

    private sealed class Logger(RecentLog owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            owner.Add(logLevel, eventId.Id == 0 ? formatter(state, exception) : $"[{eventId.Id}] {formatter(state, exception)}");
        }
    }
}
