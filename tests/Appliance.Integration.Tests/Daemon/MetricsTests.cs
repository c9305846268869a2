using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Appliance.Daemon;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>The Prometheus endpoint: the text made from status (golden), and the HTTP it is served over.</summary>
public sealed class MetricsTests
{
    private static string Golden([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Golden", "metrics.txt");

    private const string Services = """
        {"ok":true,"generation":3,"loaded":true,"services":[{"name":"web","listen":"203.0.113.10:80/tcp","scheduler":"rr","forwarding":"nat",
         "quorum":true,"sorry_active":false,
         "capacity":{"peak":812,"without_busiest":500,"window_s":86400,"warning":"service web: peak of 812 active connections in the last 24h exceeds the 500 its real servers can carry without the busiest (10.0.0.11:8080): not N-1 redundant"},
         "servers":[
          {"address":"10.0.0.11:8080","id":"0x33710000","state":"up","weight":1,"sorry":false,"check":{"result":"none","reason":""},"packets":120,"bytes":9100,
           "connections":{"active":31,"new":4012}},
          {"address":"10.0.0.12:8080","id":"0x885e0000","state":"drain","weight":1,"sorry":false,"check":{"result":"none","reason":""},"packets":7,"bytes":420,
           "connections":{"active":null,"new":2}}]},
         {"name":"api","listen":"203.0.113.10:443/tcp","scheduler":"rr","forwarding":"nat","quorum":true,"sorry_active":false,
         "capacity":{"peak":3,"without_busiest":null,"window_s":86400,"warning":null,"note":"no N-1 check: 10.0.0.21:8443 has no capacity"},
         "servers":[
          {"address":"10.0.0.21:8443","id":"0x11110000","state":"up","weight":1,"sorry":false,"check":{"result":"none","reason":""},"packets":0,"bytes":0,
           "connections":{"active":3,"new":3}}]}]}
        """;

    /// <summary>`appliancectl services` (text) from the same document: the ACTIVE and NEW columns and each service's capacity line.</summary>
    [Fact]
    public void The_services_table_matches_its_golden_file()
    {
        using var services = JsonDocument.Parse(Services);
        string text = Appliance.Ctl.StatusText.Services(services.RootElement);
        string golden = Path.Combine(Path.GetDirectoryName(Golden())!, "services.txt");
        if (Environment.GetEnvironmentVariable("APPLIANCE_UPDATE_GOLDEN") == "1")
            File.WriteAllText(golden, text);
        Assert.Equal(File.ReadAllText(golden), text);
        Assert.Contains("NOT N-1 REDUNDANT", text);
    }

    [Fact]
    public void The_text_matches_the_golden_file_and_every_sample_line_parses()
    {
        using var status = JsonDocument.Parse(StatusGoldenTests.Document());
        using var services = JsonDocument.Parse(Services);
        string text = MetricsText.Render(status.RootElement, services.RootElement);
        if (Environment.GetEnvironmentVariable("APPLIANCE_UPDATE_GOLDEN") == "1")
            File.WriteAllText(Golden(), text);
        Assert.Equal(File.ReadAllText(Golden()), text);
        Assert.Contains("appliance_role{node=\"alpha\",role=\"fencing\"} 1", text);
        Assert.Contains("appliance_peer_state{node=\"alpha\",peer=\"beta\",state=\"dead\"} 1", text);
        Assert.Contains("appliance_director_server_up{node=\"alpha\",service=\"web\",server=\"10.0.0.12:8080\"} 0", text);
        // The exposition format: comments, or NAME{LABELS} VALUE with a number that parses.
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(@"^# (HELP|TYPE) appliance_[a-z_]+ .+$", line);
                continue;
            }
            Assert.Matches(@"^appliance_[a-z_]+\{([a-z_]+=""[^""\\]*"",?)+\} -?[0-9.eE+-]+$", line);
        }
    }

    [Fact]
    public async Task Get_metrics_is_served_other_paths_and_methods_are_refused()
    {
        await using var server = new MetricsServer(new IPEndPoint(IPAddress.Loopback, 0), () => Task.FromResult("appliance_up{node=\"a\"} 1\n"),
            NullLogger.Instance);
        server.Start();
        async Task<string> Ask(string request)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(server.LocalEndpoint);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            using var reader = new StreamReader(stream);
            return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        string ok = await Ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", ok);
        Assert.Contains("Content-Type: text/plain; version=0.0.4", ok);
        Assert.EndsWith("\r\n\r\nappliance_up{node=\"a\"} 1\n", ok);
        Assert.StartsWith("HTTP/1.1 404 ", await Ask("GET / HTTP/1.1\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 405 ", await Ask("POST /metrics HTTP/1.1\r\n\r\n"));
    }
}
