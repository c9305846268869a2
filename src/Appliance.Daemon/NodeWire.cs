using System.Collections.Immutable;
using System.Text.Json;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Node;
using Appliance.Core.Ports;

namespace Appliance.Daemon;

/// <summary>
/// The node's commands and status view across the pipe between the heartbeat worker (where the
/// <see cref="ClusterNode"/> runs, on the heartbeat thread) and the daemon (which carries the commands
/// out). Worker to daemon: {"command":{"type":...}}. Daemon to worker: "resource-done", "fence-done"
/// (see <see cref="HeartbeatProxy"/>). Written by hand: no reflection, safe to trim.
/// </summary>
internal static class NodeWire
{
    public static void WriteCommand(Utf8JsonWriter w, NodeCommand c)
    {
        w.WriteStartObject();
        w.WriteStartObject("command");
        switch (c)
        {
            case RunResource r:
                w.WriteString("type", "run-resource");
                w.WriteNumber("index", r.Index);
                w.WriteNumber("verb", (int)r.Verb);
                w.WriteNumber("timeout_us", (long)r.Timeout.TotalMicroseconds);
                break;
            case RunFenceDevice f:
                w.WriteString("type", "run-fence");
                w.WriteNumber("op", f.Op);
                w.WriteString("device", f.Device);
                w.WriteNumber("action", (int)f.Action);
                w.WriteString("target", f.Target);
                w.WriteNumber("timeout_us", (long)f.Timeout.TotalMicroseconds);
                w.WriteBoolean("manual", f.Manual);
                break;
            case CancelFenceDevice x:
                w.WriteString("type", "cancel-fence");
                w.WriteNumber("op", x.Op);
                w.WriteString("target", x.Target);
                w.WriteString("why", x.Why);
                break;
            case FenceStarted s:
                w.WriteString("type", "fence-started");
                w.WriteString("target", s.Target);
                w.WriteNumber("delay_us", (long)s.Delay.TotalMicroseconds);
                w.WriteNumber("trigger", (int)s.Trigger);
                w.WriteString("why", s.Why);
                break;
            case FenceEnded e:
                w.WriteString("type", "fence-ended");
                w.WriteNumber("trigger", (int)e.Trigger);
                var r2 = e.Report;
                w.WriteString("target", r2.Target);
                w.WriteBoolean("verified", r2.Verified);
                w.WriteString("device", r2.Device);
                w.WriteNumber("action", (int)r2.Action);
                w.WriteNumber("outcome", (int)r2.Outcome);
                w.WriteString("reason", r2.Reason);
                w.WriteNumber("started_us", (long)r2.Started.TotalMicroseconds);
                w.WriteNumber("finished_us", (long)r2.Finished.TotalMicroseconds);
                w.WriteStartArray("trail");
                foreach (var t in r2.Trail)
                    w.WriteStringValue(t);
                w.WriteEndArray();
                break;
            case PowerRestored p:
                w.WriteString("type", "power-restored");
                w.WriteString("target", p.Target);
                w.WriteString("devices", p.Devices);
                w.WriteBoolean("ok", p.Ok);
                w.WriteString("reason", p.Reason);
                break;
            case OperatorReply o:
                w.WriteString("type", "reply");
                w.WriteNumber("request", o.RequestId);
                w.WriteBoolean("ok", o.Ok);
                w.WriteString("message", o.Message);
                break;
            case Decided d:
                w.WriteString("type", "decided");
                w.WriteNumber("role", (int)d.Decision.Role);
                w.WriteNumber("action", (int)d.Decision.Action);
                w.WriteString("reason", d.Decision.Reason);
                break;
            case Left l:
                w.WriteString("type", "left");
                w.WriteBoolean("clean", l.Clean);
                w.WriteString("reason", l.Reason);
                break;
            default:
                throw new InvalidOperationException($"no wire form for {c.GetType().Name}");
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static NodeCommand ReadCommand(JsonElement e)
    {
        TimeSpan Us(string name) => TimeSpan.FromMicroseconds(e.GetProperty(name).GetInt64());
        string S(string name) => e.GetProperty(name).GetString()!;
        return S("type") switch
        {
            "run-resource" => new RunResource(e.GetProperty("index").GetInt32(), (ResourceVerb)e.GetProperty("verb").GetInt32(), Us("timeout_us")),
            "run-fence" => new RunFenceDevice(e.GetProperty("op").GetInt64(), S("device"), (FenceAction)e.GetProperty("action").GetInt32(),
                S("target"), Us("timeout_us"), e.GetProperty("manual").GetBoolean()),
            "cancel-fence" => new CancelFenceDevice(e.GetProperty("op").GetInt64(), S("target"), S("why")),
            "fence-started" => new FenceStarted(S("target"), Us("delay_us"), (FenceTrigger)e.GetProperty("trigger").GetInt32(), S("why")),
            "fence-ended" => new FenceEnded(new FenceReport(S("target"), e.GetProperty("verified").GetBoolean(), S("device"),
                (FenceFinalAction)e.GetProperty("action").GetInt32(), (FenceOutcome)e.GetProperty("outcome").GetInt32(), S("reason"),
                Us("started_us"), Us("finished_us"), [.. e.GetProperty("trail").EnumerateArray().Select(t => t.GetString()!)]),
                (FenceTrigger)e.GetProperty("trigger").GetInt32()),
            "power-restored" => new PowerRestored(S("target"), S("devices"), e.GetProperty("ok").GetBoolean(), S("reason")),
            "reply" => new OperatorReply(e.GetProperty("request").GetInt64(), e.GetProperty("ok").GetBoolean(), S("message")),
            "decided" => new Decided(new ArbiterDecision((NodeRole)e.GetProperty("role").GetInt32(),
                (ArbiterAction)e.GetProperty("action").GetInt32(), S("reason"))),
            "left" => new Left(e.GetProperty("clean").GetBoolean(), S("reason")),
            var t => throw new JsonException($"unknown node command '{t}'"),
        };
    }

    public static void WriteView(Utf8JsonWriter w, NodeView v)
    {
        w.WriteStartObject();
        w.WriteNumber("role", (int)v.Role);
        w.WriteString("role_reason", v.RoleReason);
        w.WriteBoolean("standby_requested", v.StandbyRequested);
        w.WriteBoolean("leaving", v.Leaving);
        w.WriteNumber("resources", (int)v.Resources);
        w.WriteStartArray("resource_list");
        foreach (var r in v.ResourceList)
        {
            w.WriteStartObject();
            w.WriteString("name", r.Name);
            w.WriteString("kind", r.Kind);
            w.WriteNumber("state", (int)r.State);
            w.WriteString("detail", r.Detail);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("resource_failure", v.ResourceFailure);
        w.WriteBoolean("monitors_healthy", v.MonitorsHealthy);
        var f = v.Fencing;
        w.WriteNumber("fencing_phase", (int)f.Phase);
        if (f.Target is { } t) w.WriteString("fencing_target", t); else w.WriteNull("fencing_target");
        w.WriteString("fencing_progress", f.Progress);
        w.WriteNumber("fencing_rounds_failed", f.RoundsFailed);
        w.WriteBoolean("peer_fenced", v.PeerFenced);
        w.WriteEndObject();
    }

    public static NodeView ReadView(JsonElement e) => new(
        (NodeRole)e.GetProperty("role").GetInt32(),
        e.GetProperty("role_reason").GetString()!,
        e.GetProperty("standby_requested").GetBoolean(),
        e.GetProperty("leaving").GetBoolean(),
        (LocalResources)e.GetProperty("resources").GetInt32(),
        [.. e.GetProperty("resource_list").EnumerateArray().Select(r => new ResourceView(r.GetProperty("name").GetString()!,
            r.GetProperty("kind").GetString()!, (ResourceState)r.GetProperty("state").GetInt32(), r.GetProperty("detail").GetString()!))],
        e.GetProperty("resource_failure").GetString()!,
        e.GetProperty("monitors_healthy").GetBoolean(),
        new FencingView((FencingPhase)e.GetProperty("fencing_phase").GetInt32(),
            e.GetProperty("fencing_target").ValueKind == JsonValueKind.Null ? null : e.GetProperty("fencing_target").GetString(),
            e.GetProperty("fencing_progress").GetString()!, e.GetProperty("fencing_rounds_failed").GetInt32(), null),
        e.GetProperty("peer_fenced").GetBoolean());
}
