using System.Text;

namespace Appliance.Integration.Tests.Edge;

/// <summary>A fresh network namespace with a unique name (apl-nft-XXXXXXXX), deleted on dispose with everything in it.</summary>
internal sealed class NftNamespace : IDisposable
{
    public NftNamespace()
    {
        Name = $"apl-nft-{Guid.NewGuid().ToString("N")[..8]}";
        Edge.Run("ip", "netns", "add", Name);
    }

    public string Name { get; }

    /// <summary>`nft ARGS` inside the namespace with the real nft(8): an independent reader and a foreign writer.</summary>
    public string Nft(params string[] args) => Edge.Run("ip", ["netns", "exec", Name, "nft", .. args]);

    /// <summary>`nft -f -` with <paramref name="text"/> inside the namespace (someone else's table).</summary>
    public void NftLoad(string text)
    {
        string file = Path.Combine(Path.GetTempPath(), $"{Name}-{Guid.NewGuid():N}.nft");
        File.WriteAllText(file, text);
        try
        {
            Nft("-f", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>`list table inet appliance` by nft(8); "" when the table does not exist.</summary>
    public string ListOurs()
    {
        try
        {
            return Nft("list", "table", "inet", "appliance");
        }
        catch (InvalidOperationException e) when (e.Message.Contains("No such file or directory", StringComparison.Ordinal))
        {
            return "";
        }
    }

    /// <summary>The handle nft gives <c>table inet appliance</c>; a table deleted and made again gets a new one.</summary>
    public string TableHandle()
    {
        string first = Nft("-a", "list", "table", "inet", "appliance").Split('\n')[0];
        int at = first.IndexOf("# handle ", StringComparison.Ordinal);
        Assert.True(at >= 0, $"no handle in '{first}'");
        return first[(at + "# handle ".Length)..].Trim();
    }

    public void Dispose()
    {
        try
        {
            Edge.Run("ip", "netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}

/// <summary>Director-shaped nft texts for the tests (hand-written: the compiler in Core is not what is tested here).</summary>
internal static class NftTexts
{
    /// <summary>
    /// A small `table inet appliance`: a verdict map dispatching VIP:port to a service chain, the nat
    /// prerouting base chain (with a conntrack-using rule, so NAT stays active), and a service chain
    /// that DNATs round robin to two real servers.
    /// </summary>
    public const string Small = """
        table inet appliance {
          map services {
            type inet_proto . ipv4_addr . inet_service : verdict
            elements = { tcp . 192.0.2.10 . 80 : goto svc_web }
          }
          counter web_rs1 { }
          chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            ct state new meta l4proto . ip daddr . th dport vmap @services
          }
          chain svc_web {
            meta l4proto tcp dnat ip to numgen inc mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }
          }
        }
        """;

    /// <summary>A change: one service chain flushed and rewritten (three real servers now), in one transaction.</summary>
    public const string RewriteWebChain = """
        flush chain inet appliance svc_web
        add rule inet appliance svc_web meta l4proto tcp dnat ip to numgen inc mod 3 map { 0 : 10.0.0.1, 1 : 10.0.0.2, 2 : 10.0.0.3 }
        """;

    /// <summary>Someone else's table, which ours must never touch.</summary>
    public const string Other = """
        table ip other {
          set blocked { type ipv4_addr; elements = { 198.51.100.7, 198.51.100.9 } }
          chain input {
            type filter hook input priority filter; policy accept;
            ip saddr @blocked counter drop
            tcp dport 22 counter accept
          }
          chain post {
            type nat hook postrouting priority srcnat; policy accept;
            oifname "eth9" masquerade
          }
        }
        """;

    /// <summary>
    /// `services` services of `serversEach` real servers each, every service a chain with one
    /// round-robin DNAT rule (the lean form of reference/nat-director.md section 4), all dispatched
    /// by one verdict map; ids and addresses are deterministic.
    /// </summary>
    public static string Director(int services, int serversEach)
    {
        var sb = new StringBuilder();
        sb.Append("table inet appliance {\n  map services {\n    type inet_proto . ipv4_addr . inet_service : verdict\n    elements = { ");
        for (int s = 0; s < services; s++)
            sb.Append(s == 0 ? "" : ", ").Append($"tcp . 192.0.2.10 . {8000 + s} : goto svc_{s}");
        sb.Append(" }\n  }\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        sb.Append("    ct state new meta l4proto . ip daddr . th dport vmap @services\n  }\n");
        for (int s = 0; s < services; s++)
            sb.Append($"  chain svc_{s} {{\n    {Rule(s, serversEach)}\n  }}\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>The health-flip change for <see cref="Director"/>: service 0's chain rewritten without its last server.</summary>
    public static string FlipOne(int serversEach) => $"flush chain inet appliance svc_0\nadd rule inet appliance svc_0 {Rule(0, serversEach - 1)}\n";

    private static string Rule(int service, int servers)
    {
        var sb = new StringBuilder($"meta l4proto tcp dnat ip to numgen inc mod {servers} map {{ ");
        for (int i = 0; i < servers; i++)
        {
            int n = service * 10_000 + i + 1;
            sb.Append(i == 0 ? "" : ", ").Append($"{i} : 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255} . 8080");
        }
        return sb.Append(" }").ToString();
    }
}
