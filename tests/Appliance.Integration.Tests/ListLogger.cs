using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests;

/// <summary>Keeps every log event (and shows it in the test output), so a test can assert on event ids.</summary>
internal sealed class ListLogger(ITestOutputHelper output) : ILogger
{
    public ConcurrentQueue<(int Id, LogLevel Level, string Message)> Entries { get; } = new();

    public int Count(int id) => Entries.Count(e => e.Id == id);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string message = formatter(state, exception);
        Entries.Enqueue((eventId.Id, logLevel, message));
        try
        {
            output.WriteLine($"{eventId.Id} {logLevel}: {message}");
        }
        catch (InvalidOperationException)
        {
            // the test has ended; a late event has nowhere to go
        }
    }
}
