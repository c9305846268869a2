using System.Text;
using System.Text.Json;
using Appliance.Daemon.Fencing;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>The fence history file: torn lines, durable whole-file writes, and writes that cannot happen.</summary>
public sealed class FenceHistoryTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-history-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static FenceHistoryEntry Entry(int i) => new(
        DateTimeOffset.UnixEpoch.AddSeconds(1_700_000_000 + i), "beta", "relay-beta", "off", "done", true, $"round {i}", 120 + i, "peer-dead");

    private static string Line(FenceHistoryEntry e) => JsonSerializer.Serialize(e, HistoryJson.Default.FenceHistoryEntry);

    [Fact]
    public void A_torn_last_line_is_skipped_and_not_glued_to_the_next_entry()
    {
        string path = Path.Combine(_dir, "fence-history.jsonl");
        string good = Line(Entry(1));
        string torn = Line(Entry(2))[..40]; // a power cut in the middle of the last append
        File.WriteAllText(path, good + "\n" + torn);

        var history = new FenceHistory(_dir);
        Assert.Equal(["round 1"], history.Entries.Select(e => e.Reason));

        Assert.Null(history.Add(Entry(3)));

        // The file holds exactly the good entries, each on a line of its own that parses.
        string[] lines = File.ReadAllText(path).Split('\n');
        output.WriteLine(string.Join("\n", lines));
        Assert.Equal("", lines[^1]); // ends with a newline
        Assert.Equal([good, Line(Entry(3))], lines[..^1]);
        Assert.Equal(["round 1", "round 3"], new FenceHistory(_dir).Entries.Select(e => e.Reason));
    }

    [Fact]
    public void After_add_the_file_is_whole_and_no_temporary_file_is_left()
    {
        var history = new FenceHistory(_dir);
        for (int i = 0; i < 5; i++)
            Assert.Null(history.Add(Entry(i)));
        Assert.Null(history.LastError);

        string path = Path.Combine(_dir, "fence-history.jsonl");
        Assert.Equal(string.Concat(Enumerable.Range(0, 5).Select(i => Line(Entry(i)) + "\n")), File.ReadAllText(path));
        Assert.Equal(["fence-history.jsonl"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal(5, new FenceHistory(_dir).Entries.Count);
    }

    [Fact]
    public void A_history_that_cannot_be_written_returns_the_reason_and_never_throws()
    {
        // Root ignores permission bits, so use what fails for root too: the state "directory" is a file.
        string notADirectory = Path.Combine(_dir, "state");
        File.WriteAllText(notADirectory, "a file, not a directory");
        var history = new FenceHistory(Path.Combine(notADirectory, "fencing"));

        string? error = history.Add(Entry(1));
        output.WriteLine(error);
        Assert.NotNull(error);
        Assert.Contains("fence-history.jsonl", error);
        Assert.Equal(error, history.LastError);
        Assert.Equal(["round 1"], history.Entries.Select(e => e.Reason)); // still shown by status
        Assert.Equal("a file, not a directory", File.ReadAllText(notADirectory));
    }

    [RootFact]
    public void A_full_disk_returns_the_reason_and_keeps_the_old_file()
    {
        string mount = Path.Combine(_dir, "tiny");
        Directory.CreateDirectory(mount);
        Edge.Edge.Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount);
        try
        {
            var history = new FenceHistory(mount);
            Assert.Null(history.Add(Entry(1)));
            string path = Path.Combine(mount, "fence-history.jsonl");
            string before = File.ReadAllText(path);

            // Fill the file system to the last byte.
            using (var filler = new FileStream(Path.Combine(mount, "filler"), FileMode.Create))
            {
                var block = new byte[4096];
                try
                {
                    while (true)
                        filler.Write(block);
                }
                catch (IOException)
                {
                }
                try
                {
                    filler.Flush();
                }
                catch (IOException)
                {
                }
            }

            var big = Entry(2) with { Reason = new string('r', 8192) };
            string? error = history.Add(big);
            output.WriteLine(error);
            Assert.NotNull(error);
            Assert.Equal(before, File.ReadAllText(path));
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            Edge.Edge.Run("umount", mount);
        }
    }

    [Fact]
    public void Lines_are_utf8_json_one_per_entry()
    {
        var history = new FenceHistory(_dir);
        Assert.Null(history.Add(Entry(1) with { Reason = "relais défaillant" }));
        byte[] bytes = File.ReadAllBytes(Path.Combine(_dir, "fence-history.jsonl"));
        Assert.Contains("défaillant", JsonDocument.Parse(Encoding.UTF8.GetString(bytes).TrimEnd('\n')).RootElement.GetProperty("reason").GetString());
    }
}
