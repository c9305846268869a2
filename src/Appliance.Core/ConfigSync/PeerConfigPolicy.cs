using Appliance.Core.Config;

namespace Appliance.Core.ConfigSync;

/// <summary>
/// What a config from the peer may not change without the operator's explicit force: the pair's
/// identity. The cluster's name (the frames' cluster hash), its key file (a different key, or a key
/// file this board does not have, cuts the pair apart), and the node list (names and order: a node's
/// id on the wire is its position). A replication that changed them silently could leave the two
/// boards unable to hear each other after their next restart, with nothing left to undo it with.
/// </summary>
public static class PeerConfigPolicy
{
    /// <summary>The protected differences between what runs and what the peer sent, one line each (none: it may be applied).</summary>
    public static IReadOnlyList<string> ProtectedChanges(ApplianceConfig running, ApplianceConfig candidate)
    {
        var changes = new List<string>();
        if (running.Cluster.Name != candidate.Cluster.Name)
            changes.Add($"cluster.name: '{running.Cluster.Name}' -> '{candidate.Cluster.Name}'");
        if (running.Cluster.KeyFile != candidate.Cluster.KeyFile)
            changes.Add($"cluster.key_file: '{running.Cluster.KeyFile}' -> '{candidate.Cluster.KeyFile}'");
        var before = running.Nodes.Select(n => n.Name).ToArray();
        var after = candidate.Nodes.Select(n => n.Name).ToArray();
        if (!before.SequenceEqual(after))
            changes.Add($"nodes: [{string.Join(", ", before)}] -> [{string.Join(", ", after)}] (names and order are the nodes' identities on the wire)");
        return changes;
    }
}
