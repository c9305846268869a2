using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Linux;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The config file's and the key file's trust rules (ConfigFile, KeyFile): what is refused, what is
/// only a warning, and that a FIFO at the path never blocks.
/// </summary>
public sealed class TrustFileTests : IDisposable
{
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0644 = Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const int NobodyUid = 65534;

    private readonly string _dir = Directory.CreateTempSubdirectory("apl-trust-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text, UnixFileMode mode)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [Fact]
    public void A_private_config_is_read_without_warnings_and_through_a_symlink()
    {
        string path = Write("appliance.yaml", "cluster: {name: edge}\n", Mode0600);
        ConfigFileResult r = ConfigFile.Read(path);
        Assert.Equal("cluster: {name: edge}\n", r.Text);
        Assert.Null(r.Error);
        Assert.Empty(r.Warnings);

        string link = Path.Combine(_dir, "link.yaml");
        File.CreateSymbolicLink(link, path);
        Assert.Equal("cluster: {name: edge}\n", ConfigFile.Read(link).Text);
    }

    [Fact]
    public void A_config_others_can_read_is_a_warning()
    {
        string path = Write("appliance.yaml", "x: 1\n", Mode0644);
        ConfigFileResult r = ConfigFile.Read(path);
        Assert.Equal("x: 1\n", r.Text);
        Assert.Equal([$"{path}: mode 0644 lets every local user read it, fence passwords included; chmod o-r {path}"], r.Warnings);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupWrite, "0620")]
    [InlineData(UnixFileMode.OtherWrite, "0602")]
    public void A_config_the_group_or_others_can_write_is_refused(UnixFileMode extra, string octal)
    {
        string path = Write("appliance.yaml", "x: 1\n", Mode0600 | extra);
        ConfigFileResult r = ConfigFile.Read(path);
        Assert.Null(r.Text);
        Assert.Equal($"{path}: mode {octal} lets the group or others change the commands the daemon runs as root; chmod go-w {path}", r.Error);
    }

    [Fact]
    public void A_config_over_1_MiB_is_refused()
    {
        string path = Write("appliance.yaml", new string('#', ConfigFile.MaxBytes + 1), Mode0600);
        Assert.Equal($"{path}: is more than {ConfigFile.MaxBytes} bytes; a config is at most {ConfigFile.MaxBytes}", ConfigFile.Read(path).Error);
        Assert.Equal(ConfigLimits.MaxConfigChars, ConfigFile.MaxBytes);
    }

    [Fact]
    public async Task A_fifo_config_is_refused_without_blocking()
    {
        string path = Path.Combine(_dir, "appliance.yaml");
        Edge.Run("mkfifo", "-m", "600", path);
        var read = Task.Run(() => ConfigFile.Read(path));
        bool finished = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(5))) == read;
        if (!finished)
        {
            using var writer = new FileStream(path, FileMode.Open, FileAccess.Write); // let the stuck reader go
        }
        Assert.True(finished, "ConfigFile.Read blocked on a FIFO");
        Assert.Equal($"{path}: is a FIFO, not a config file; it must be a regular file", (await read).Error);
    }

    [Fact]
    public void Devices_and_sockets_and_missing_files_are_refused()
    {
        Assert.Equal("/dev/null: is a character device, not a config file; it must be a regular file", ConfigFile.Read("/dev/null").Error);
        Assert.Equal($"{_dir}: is a directory, not a config file", ConfigFile.Read(_dir).Error);
        string missing = Path.Combine(_dir, "nope.yaml");
        Assert.Equal($"{missing}: no such file", ConfigFile.Read(missing).Error);
        string socketPath = Path.Combine(_dir, "s.sock");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        // open(2) of a socket fails with ENXIO before any type check; refused either way.
        Assert.Null(ConfigFile.Read(socketPath).Text);
        Assert.Contains(socketPath, ConfigFile.Read(socketPath).Error);
    }

    [RootFact]
    public void A_config_or_key_owned_by_another_user_is_refused()
    {
        string config = Write("appliance.yaml", "x: 1\n", Mode0600);
        File.SetUnixFileMode(config, Mode0600);
        Chown(config, NobodyUid);
        Assert.Equal($"{config}: is owned by uid {NobodyUid}, who could make the daemon run any command; it must be owned by root (chown root {config})",
            ConfigFile.Read(config).Error);

        string key = Path.Combine(_dir, "authkey");
        File.WriteAllBytes(key, Enumerable.Range(0, 32).Select(i => (byte)(i + 1)).ToArray());
        File.SetUnixFileMode(key, Mode0600);
        Assert.True(KeyFile.Load(key).Ok);
        Chown(key, NobodyUid);
        Assert.Equal($"{key}: is owned by uid {NobodyUid}, who could change the key; it must be owned by root (chown root {key})", KeyFile.Load(key).Error);
    }

    private static void Chown(string path, int uid)
    {
        using var p = Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
