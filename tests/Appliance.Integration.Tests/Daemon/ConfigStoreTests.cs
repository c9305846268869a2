using System.Text;
using Appliance.Core.Config;
using Appliance.Daemon;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The config store on a real file system with fake time: generations, the atomic write and its
/// mode, the optimistic version check, the checker's refusal, a refused apply that puts the old file
/// back, `commit confirmed` rolled back on time (across a daemon restart and a reboot too), confirm,
/// rollback N, hand edits adopted, and the history bounded.
/// </summary>
public sealed class ConfigStoreTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-store-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 3, 1, 2, 0, 0, TimeSpan.Zero) + TimeSpan.FromSeconds(Random.Shared.Next(100_000)));
    private readonly List<string> _applied = [];
    private readonly ListLogger _log = new(output);
    private bool _refuseApply;

    private string ConfigPath => Path.Combine(_dir, "appliance.yaml");

    private string StateDir => Path.Combine(_dir, "state");

    internal static string Config(string deadtime = "1s", string priority = "100") => $$"""
        cluster:
          name: store
          key_file: /etc/appliance/authkey
          timers: {keepalive: 200ms, warntime: 600ms, deadtime: {{deadtime}}, initdead: 10s}
        nodes:
          - name: alpha
            priority: {{priority}}
            links:
              - {name: lan0, kind: udp, local: 10.0.0.1, peer: 10.0.0.2}
          - name: beta
            links:
              - {name: lan0, kind: udp, local: 10.0.0.2, peer: 10.0.0.1}

        """;

    private ConfigStore Open(string bootId = "boot-1")
    {
        return new ConfigStore(StateDir, ConfigPath, "alpha", (source, text) => ConfigLoader.Load(source, text),
            (trigger, config, _) =>
            {
                _applied.Add($"{trigger}: priority {config.Nodes[0].Priority}");
                return Task.FromResult(_refuseApply
                    ? new ReloadOutcome(false, "reload refused, the running config stays: the kernel said no", [], [], TimeSpan.Zero)
                    : new ReloadOutcome(true, "reload: no director change", [], [], TimeSpan.Zero));
            },
            _ => null, _log, _time, bootId);
    }

    private void WriteFile(string text)
    {
        File.WriteAllText(ConfigPath, text);
        File.SetUnixFileMode(ConfigPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static void WaitFor(Func<bool> condition, string what) => Lab.Lab.WaitUntil(condition, TimeSpan.FromSeconds(10), what);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_commit_writes_the_file_atomically_with_its_mode_applies_it_and_records_a_generation()
    {
        WriteFile(Config());
        using var store = Open();
        Assert.Equal(1, store.Version);
        Assert.Equal("initial", store.History[0].Kind);
        Assert.Equal(ConfigStore.Hash(File.ReadAllBytes(ConfigPath)), store.Sha256);

        var o = await store.CommitAsync(new CommitRequest(Config(priority: "120"), "root@ttyS0", "prefer alpha", BaseVersion: 1));
        output.WriteLine(o.Message);
        Assert.Equal(CommitStatus.Committed, o.Status);
        Assert.Equal(2, store.Version);
        Assert.Equal(Config(priority: "120"), File.ReadAllText(ConfigPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigPath));
        Assert.Equal(["commit by root@ttyS0: priority 120"], _applied);
        var g = store.History[^1];
        Assert.Equal(("root@ttyS0", "prefer alpha", "commit"), (g.Who, g.Comment, g.Kind));
        Assert.Equal(ConfigStore.Hash(Encoding.UTF8.GetBytes(Config(priority: "120"))), g.Sha256);
        Assert.Equal(Config(priority: "120"), store.Text);
        Assert.False(File.Exists(ConfigPath + ".tmp"));

        var same = await store.CommitAsync(new CommitRequest(Config(priority: "120"), "root", "", BaseVersion: 2));
        Assert.Equal(CommitStatus.Unchanged, same.Status);
        Assert.Equal(2, store.Version);
    }

    [Fact]
    public async Task A_commit_from_an_old_base_an_invalid_text_or_a_refused_apply_changes_nothing()
    {
        WriteFile(Config());
        using var store = Open();
        Assert.Equal(CommitStatus.Committed, (await store.CommitAsync(new CommitRequest(Config(priority: "110"), "first editor", "", BaseVersion: 1))).Status);
        byte[] before = File.ReadAllBytes(ConfigPath);

        var late = await store.CommitAsync(new CommitRequest(Config(priority: "90"), "second editor", "", BaseVersion: 1));
        output.WriteLine(late.Message);
        Assert.Equal(CommitStatus.Conflict, late.Status);
        Assert.Contains("generation 2 was committed by first editor", late.Message);

        var bad = await store.CommitAsync(new CommitRequest(Config(deadtime: "300ms"), "root", "", BaseVersion: 2, Source: "candidate"));
        output.WriteLine(bad.Message);
        Assert.Equal(CommitStatus.Invalid, bad.Status);
        Assert.StartsWith("candidate:4:", Assert.Single(bad.Errors.Where(e => e.Message.Contains("2 x keepalive"))).ToString());

        var noNode = await store.CommitAsync(new CommitRequest(Config().Replace("name: alpha", "name: gamma"), "root", "", BaseVersion: 2));
        Assert.Equal(CommitStatus.Invalid, noNode.Status);
        Assert.Contains("this node (alpha) is not in it", noNode.Message);

        _refuseApply = true;
        var refused = await store.CommitAsync(new CommitRequest(Config(priority: "130"), "root", "", BaseVersion: 2));
        output.WriteLine(refused.Message);
        Assert.Equal(CommitStatus.Failed, refused.Status);
        Assert.Contains("the old file is back", refused.Message);

        Assert.Equal(before, File.ReadAllBytes(ConfigPath));
        Assert.Equal(2, store.Version);
    }

    [Fact]
    public async Task Commit_confirmed_is_rolled_back_on_time_unless_confirmed()
    {
        WriteFile(Config());
        using var store = Open();
        var o = await store.CommitAsync(new CommitRequest(Config(priority: "120"), "root@ttyS0", "risky", BaseVersion: 1, ConfirmWithin: TimeSpan.FromSeconds(3)));
        output.WriteLine(o.Message);
        Assert.Contains("rolled back to generation 1", o.Message);
        Assert.NotNull(store.Pending);
        _time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.Equal(2, store.Version);
        _time.Advance(TimeSpan.FromSeconds(0.2));
        WaitFor(() => store.Version == 3, "the rollback");
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));
        var g = store.History[^1];
        Assert.Equal(("commit confirmed", "rollback"), (g.Who, g.Kind));
        Assert.Contains("generation 2 was not confirmed within 3 s", g.Comment);
        Assert.Null(store.Pending);
        Assert.Equal("rollback by commit confirmed: priority 100", _applied[^1]);

        // Confirmed in time: it stays.
        await store.CommitAsync(new CommitRequest(Config(priority: "125"), "root", "", BaseVersion: 3, ConfirmWithin: TimeSpan.FromMinutes(1)));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(CommitStatus.Committed, (await store.ConfirmAsync("root@ttyS0")).Status);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(4, store.Version);
        Assert.StartsWith(ConfigStore.Show(_time.GetUtcNow() - TimeSpan.FromMinutes(5))[..10], store.History[^1].Confirmed);
        Assert.Equal(CommitStatus.Failed, (await store.ConfirmAsync("root")).Status); // nothing left to confirm
    }

    [Fact]
    public async Task A_plain_commit_confirms_and_a_second_confirmed_commit_keeps_the_first_rollback_target()
    {
        WriteFile(Config());
        using var store = Open();
        await store.CommitAsync(new CommitRequest(Config(priority: "120"), "root", "", BaseVersion: 1, ConfirmWithin: TimeSpan.FromMinutes(1)));
        await store.CommitAsync(new CommitRequest(Config(priority: "121"), "root", "", BaseVersion: 2, ConfirmWithin: TimeSpan.FromMinutes(1)));
        Assert.Equal(1, store.Pending!.RollbackTo);
        _time.Advance(TimeSpan.FromMinutes(1.5));
        WaitFor(() => store.Version == 4, "the rollback");
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));

        await store.CommitAsync(new CommitRequest(Config(priority: "122"), "root", "", BaseVersion: 4, ConfirmWithin: TimeSpan.FromMinutes(1)));
        var plain = await store.CommitAsync(new CommitRequest(Config(priority: "123"), "root", "", BaseVersion: 5));
        Assert.Contains("also confirms generation 5", plain.Message);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(6, store.Version);
    }

    [Fact]
    public async Task A_pending_confirmation_survives_a_daemon_restart_and_a_start_after_the_deadline_rolls_back_first()
    {
        WriteFile(Config());
        using (var store = Open())
            await store.CommitAsync(new CommitRequest(Config(priority: "120"), "root", "", BaseVersion: 1, ConfirmWithin: TimeSpan.FromSeconds(10)));

        // Restarted within the time: the timer is armed again for what is left.
        Assert.Null(ConfigStore.RecoverAtStart(StateDir, ConfigPath, "boot-1", _time, _log));
        using (var store = Open())
        {
            store.Start();
            Assert.Equal(2, store.Pending!.Version);
            _time.Advance(TimeSpan.FromSeconds(9));
            Assert.Equal(2, store.Version);
            _time.Advance(TimeSpan.FromSeconds(2));
            WaitFor(() => store.Version == 3, "the rollback after the restart");
        }
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));

        // Down at the deadline: rolled back in the file before the config is read, recorded as such.
        using (var store = Open())
            await store.CommitAsync(new CommitRequest(Config(priority: "130"), "root", "", BaseVersion: 3, ConfirmWithin: TimeSpan.FromSeconds(10)));
        _time.Advance(TimeSpan.FromSeconds(20));
        string? said = ConfigStore.RecoverAtStart(StateDir, ConfigPath, "boot-1", _time, _log);
        output.WriteLine(said);
        Assert.Contains("rolled back to generation 3", said);
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));
        using (var store = Open())
        {
            Assert.Equal(5, store.Version);
            Assert.Equal(("commit confirmed (at start)", "rollback"), (store.History[^1].Who, store.History[^1].Kind));
            Assert.Null(store.Pending);
        }

        // Another boot: the deadline's clock is gone, the commit was not confirmed: rolled back.
        using (var store = Open())
            await store.CommitAsync(new CommitRequest(Config(priority: "140"), "root", "", BaseVersion: 5, ConfirmWithin: TimeSpan.FromHours(1)));
        Assert.Contains("before the machine restarted", ConfigStore.RecoverAtStart(StateDir, ConfigPath, "boot-2", _time, _log));
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));
    }

    [Fact]
    public async Task Rollback_n_commits_an_older_generation_again_and_a_hand_edit_is_adopted()
    {
        WriteFile(Config());
        using var store = Open();
        await store.CommitAsync(new CommitRequest(Config(priority: "110"), "a", "", BaseVersion: 1));
        await store.CommitAsync(new CommitRequest(Config(priority: "120"), "b", "", BaseVersion: 2));
        var r = await store.RollbackAsync(2, "root@ttyS0", "");
        Assert.Equal(CommitStatus.Committed, r.Status);
        Assert.Equal(4, store.Version);
        Assert.Equal(Config(), File.ReadAllText(ConfigPath));
        Assert.Equal(("rollback", "rollback 2: back to generation 1"), (store.History[^1].Kind, store.History[^1].Comment));
        Assert.Equal(CommitStatus.Failed, (await store.RollbackAsync(10, "root", "")).Status);

        WriteFile(Config(priority: "99")); // by hand
        var late = await store.CommitAsync(new CommitRequest(Config(priority: "98"), "console", "", BaseVersion: 4));
        Assert.Equal(CommitStatus.Conflict, late.Status);
        Assert.Equal(5, store.Version);
        Assert.Equal(("file", "adopted"), (store.History[^1].Who, store.History[^1].Kind));
    }

    [Fact]
    public async Task The_history_keeps_the_last_fifty_generations()
    {
        WriteFile(Config());
        using var store = Open();
        for (int i = 0; i < 60; i++)
            await store.CommitAsync(new CommitRequest(Config(priority: (150 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)), "root", "", BaseVersion: store.Version));
        Assert.Equal(61, store.Version);
        Assert.Equal(ConfigStore.HistoryMax, store.History.Count);
        Assert.Equal(12, store.History[0].Version);
        Assert.Equal(2 * ConfigStore.HistoryMax, Directory.GetFiles(Path.Combine(StateDir, "config-history")).Length);
        using var reopened = Open();
        Assert.Equal(61, reopened.Version);
        Assert.Equal(Config(priority: "209"), reopened.Text);
    }
}
