using Appliance.Linux;

namespace Appliance.Core.Tests.Config;

public sealed class KeyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("appliance-keyfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] content, UnixFileMode mode)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    /// <summary>Key material that is not one byte repeated.</summary>
    private static byte[] Strong(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 1)).ToArray();

    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode0644 = Mode0600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    [Fact]
    public void GoodKey_IsAccepted_AsRawBytes()
    {
        var bytes = Enumerable.Range(0, 40).Select(i => (byte)(i * 7)).ToArray(); // includes 0x00 and 0x0a
        var path = Write("authkey", bytes, Mode0600);

        var result = KeyFile.Load(path);

        Assert.True(result.Ok, result.Error);
        Assert.Null(result.Error);
        Assert.Equal(bytes, result.Key);
    }

    [Fact]
    public void ReadOnlyKey_0400_IsAccepted()
    {
        var path = Write("authkey", Strong(32), UnixFileMode.UserRead);
        Assert.True(KeyFile.Load(path).Ok);
    }

    [Fact]
    public void Mode0644_IsRefused()
    {
        var path = Write("authkey", Strong(32), Mode0644);

        var result = KeyFile.Load(path);

        Assert.Null(result.Key);
        Assert.Equal($"{path}: mode 0644 gives the group or others access to the key; it must be 0600 or 0400 (chmod 600 {path})", result.Error);
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.OtherWrite)]
    [InlineData(UnixFileMode.GroupExecute)]
    public void AnyGroupOrOtherBit_IsRefused(UnixFileMode extra)
    {
        var path = Write("authkey", Strong(32), Mode0600 | extra);
        Assert.Contains("gives the group or others access", KeyFile.Load(path).Error);
    }

    [Fact]
    public void ShortKey_IsRefused()
    {
        var path = Write("authkey", Strong(31), Mode0600);

        var result = KeyFile.Load(path);

        Assert.Null(result.Key);
        Assert.Equal($"{path}: holds 31 bytes; the key file must be a regular file of at least 32 bytes of key material", result.Error);
    }

    [Fact]
    public void HugeKey_IsRefused()
    {
        var path = Write("authkey", Strong(KeyFile.MaxKeyBytes + 1), Mode0600);
        Assert.Equal($"{path}: holds more than {KeyFile.MaxKeyBytes} bytes; a key file holds at most {KeyFile.MaxKeyBytes}", KeyFile.Load(path).Error);
    }

    [Fact]
    public void MissingFile_IsRefused_NamingThePath()
    {
        var path = Path.Combine(_dir, "nope");
        Assert.Equal($"{path}: the key file does not exist", KeyFile.Load(path).Error);
    }

    [Fact]
    public void Directory_IsRefused()
    {
        Assert.Equal($"{_dir}: is a directory; the key file must be a regular file", KeyFile.Load(_dir).Error);
    }

    [Fact]
    public void Generate_Writes32RandomBytes_Mode0600_ThatLoadAccepts()
    {
        var path = Path.Combine(_dir, "authkey");

        var generated = KeyFile.Generate(path);

        Assert.True(generated.Ok, generated.Error);
        Assert.Equal(KeyFile.GeneratedKeyBytes, generated.Key!.Length);
        Assert.Equal(0, (int)(File.GetUnixFileMode(path) & ~Mode0600));
        Assert.Equal(generated.Key, KeyFile.Load(path).Key);
        Assert.Equal(["authkey"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.NotEqual(generated.Key, KeyFile.Generate(Path.Combine(_dir, "other")).Key);
    }

    [Fact]
    public void Generate_KeepsAnExistingKey_UnlessToldToOverwrite()
    {
        var path = Write("authkey", Strong(32), Mode0600);

        Assert.Equal($"{path}: already exists; not replacing a key", KeyFile.Generate(path).Error);
        Assert.Equal(Strong(32), File.ReadAllBytes(path));

        var replaced = KeyFile.Generate(path, overwrite: true);
        Assert.True(replaced.Ok, replaced.Error);
        Assert.Equal(replaced.Key, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(0x00, 32)]
    [InlineData(0x00, 64)]
    [InlineData(0xFF, 32)]
    public void WeakKey_OneByteRepeated_IsRefused(byte value, int length)
    {
        var path = Write("authkey", Enumerable.Repeat(value, length).ToArray(), Mode0600);
        var result = KeyFile.Load(path);
        Assert.Null(result.Key);
        Assert.Equal($"{path}: every byte of the key is 0x{value:x2}; that is no secret (head -c 32 /dev/urandom > {path})", result.Error);
    }

    [Fact]
    public async Task Fifo_IsRefused_WithoutBlocking()
    {
        var path = Path.Combine(_dir, "authkey");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", ["-m", "600", path]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var load = Task.Run(() => KeyFile.Load(path));
        bool finished = await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(5))) == load;
        if (!finished)
        {
            using var writer = new FileStream(path, FileMode.Open, FileAccess.Write); // let the stuck reader go
        }
        Assert.True(finished, "KeyFile.Load blocked on a FIFO");
        Assert.Equal($"{path}: is a FIFO; the key file must be a regular file", (await load).Error);
    }

    [Fact]
    public void Symlink_ToAGoodKey_IsFollowed()
    {
        var target = Write("real", Strong(32), Mode0600);
        var link = Path.Combine(_dir, "authkey");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(Strong(32), KeyFile.Load(link).Key);
    }
}
