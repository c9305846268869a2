namespace Appliance.Daemon;

/// <summary>
/// How to run this daemon's executable again, for its worker processes (the heartbeat's and
/// libnftables'): the binary itself when it is one (NativeAOT or an apphost), or `dotnet applianced.dll`
/// when the daemon, or a test host, runs on the dotnet host. Not from <c>Assembly.Location</c>, which is
/// empty in a NativeAOT binary.
/// </summary>
internal static class SelfCommand
{
    public static List<string> Get()
    {
        string name = typeof(SelfCommand).Assembly.GetName().Name ?? "applianced";
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == name)
            return [self];
        string dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return [dotnet, Path.Combine(AppContext.BaseDirectory, name + ".dll")];
    }
}
