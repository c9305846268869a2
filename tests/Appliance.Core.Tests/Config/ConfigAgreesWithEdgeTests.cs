using Appliance.Core.Config;
using Appliance.Linux.Fencing;

namespace Appliance.Core.Tests.Config;

/// <summary>
/// <c>appliancectl config check</c> and the daemon load a config with the same validation; what the
/// daemon then refuses when it builds the edge objects must already be a config error. Each case is
/// a fence-agent device: either the config rejects it, or the daemon's constructor (the call
/// FenceDeviceFactory makes) accepts it; never "config OK, daemon aborts at start".
/// </summary>
public class ConfigAgreesWithEdgeTests
{
    public static TheoryData<string, string> AgentDevices() => new()
    {
        { "params: [ipaddr=10.0.0.5, login=admin]", "" },
        { "params: [ipaddr=10.0.0.5, \"passwd=a\\nb\"]", "" },
        { "params: [\"passwd=a\\rb\"]", "" },
        { "params: [plug=3]", "" },
        { "params: [port=3]", "" },
        { "params: [action=off]", "" },
        { "params: [option=off]", "" },
        { "params: [nodename=beta]", "" },
        { "params: [Plug=3]", "" },
        { "params: [ipaddr=" + new string('x', 4089) + "]", "" },
        { "params: [ipaddr=" + new string('x', 4090) + "]", "" },
        { "params: [ipaddr=10.0.0.5]", "plugs: {alpha: '1', beta: '2'}" },
        { "params: [port=1]", "plugs: {alpha: '1', beta: '2'}" },
    };

    [Theory]
    [MemberData(nameof(AgentDevices))]
    public void A_fence_agent_device_the_config_accepts_is_one_the_daemon_builds(string parameters, string plugs)
    {
        string yaml = ConfigSamples.Base.Replace("fence: [relay-beta, pdu]", "fence: [relay-beta, pdu, ipmi]", StringComparison.Ordinal)
            + $"  - {{name: ipmi, kind: fence-agent, agent: fence_ipmilan, {parameters}{(plugs.Length == 0 ? "" : ", " + plugs)}}}\n";
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);

        Exception? daemon = null;
        var device = result.Config?.FenceDevices.OfType<FenceAgentFenceConfig>().Single();
        if (device is not null)
        {
            // What FenceDeviceFactory.Create does for this kind, at every daemon start.
            daemon = Record.Exception(() => new FenceAgentDevice(device.Name, device.Agent,
                device.Plugs.IsEmpty ? null : device.Plugs.ToDictionary(p => p.Key, p => p.Value), device.Params));
        }
        Assert.True(daemon is null, $"config check accepts {parameters} {plugs} but the daemon refuses it at start: {daemon?.Message}");
        if (!result.Ok)
            Assert.Contains(result.Errors, e => e.ToString().Contains("fence_devices[3]", StringComparison.Ordinal));
    }

    [Fact]
    public void The_config_refuses_exactly_what_the_request_refuses()
    {
        foreach (var (name, value, refused) in new[]
        {
            ("ipaddr", "10.0.0.5", false), ("passwd", "a\nb", true), ("plug", "3", true), ("port", "3", true),
            ("action", "off", true), ("option", "off", true), ("nodename", "x", true), ("ipaddr", new string('x', 4089), false),
            ("ipaddr", new string('x', 4090), true),
        })
        {
            string? error = Core.Fencing.FenceAgentProtocol.ParameterError(name, value);
            Exception? request = Record.Exception(() => Core.Fencing.FenceAgentProtocol.Request(
                Core.Fencing.FenceAction.Off, "1", "beta", [new(name, value)]));
            Assert.Equal(refused, error is not null);
            Assert.Equal(refused, request is ArgumentException);
        }
    }
}
