using Appliance.Core.Arbiter;
using Appliance.Core.Fencing;

namespace Appliance.Core.Node;

/// <summary>
/// A resource action the host carries out and reports back with <see cref="ClusterNode.ResourceDone"/>:
/// start, stop, check, or finish a start once every resource has started
/// (<see cref="ResourceSpec.FinishesLast"/>: the conntrack commit after the VIPs).
/// </summary>
public enum ResourceVerb { Start, Stop, Monitor, Finish }

/// <summary>Why a fence operation ran: the arbiter (a dead peer) or an operator's `fence NODE`.</summary>
public enum FenceTrigger { PeerDead, Operator }

/// <summary>
/// What the node wants done. The node is sans-I/O: it emits these, the host (the daemon, or the
/// simulation) carries them out and reports back. Commands are emitted only on changes, never per frame.
/// </summary>
public abstract record NodeCommand;

/// <summary>Run one action of resource <paramref name="Index"/> (config order), bounded by <paramref name="Timeout"/>; report with <see cref="ClusterNode.ResourceDone"/>.</summary>
public sealed record RunResource(int Index, ResourceVerb Verb, TimeSpan Timeout) : NodeCommand;

/// <summary>
/// Run one fence device action, bounded by <paramref name="Timeout"/>; report with
/// <see cref="ClusterNode.FenceDone"/> quoting <paramref name="Op"/>. At most one is outstanding at a time.
/// </summary>
public sealed record RunFenceDevice(long Op, string Device, FenceAction Action, string Target, TimeSpan Timeout, bool Manual) : NodeCommand;

/// <summary>
/// The operation <paramref name="Op"/> against <paramref name="Target"/> was called off: cancel its
/// device action if one still runs (its report is still expected), and say so.
/// </summary>
public sealed record CancelFenceDevice(long Op, string Target, string Why) : NodeCommand;

/// <summary>A fence round started (for the log).</summary>
public sealed record FenceStarted(string Target, TimeSpan Delay, FenceTrigger Trigger, string Why) : NodeCommand;

/// <summary>A fence operation ended: write it to the history and the log.</summary>
public sealed record FenceEnded(FenceReport Report, FenceTrigger Trigger) : NodeCommand;

/// <summary>An operator powered the target on again (`fence on NODE`): write it to the history.</summary>
public sealed record PowerRestored(string Target, string Devices, bool Ok, string Reason) : NodeCommand;

/// <summary>The answer to an operator request (<paramref name="RequestId"/> as given to the node).</summary>
public sealed record OperatorReply(long RequestId, bool Ok, string Message) : NodeCommand;

/// <summary>The arbiter's decision changed (for the log and the service manager's status line).</summary>
public sealed record Decided(ArbiterDecision Decision) : NodeCommand;

/// <summary>
/// The clean shutdown is complete: everything is stopped, and the peer has seen this node say so (or
/// is not there to see it). <paramref name="Clean"/> is false when a resource failed to stop: the
/// node exits without saying "leaving", so the peer fences it.
/// </summary>
public sealed record Left(bool Clean, string Reason) : NodeCommand;
