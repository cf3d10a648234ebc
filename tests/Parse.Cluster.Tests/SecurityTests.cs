using Parse.Cluster.Launch;
using Parse.Cluster.Runtime;

namespace Parse.Cluster.Tests;

/// <summary>
/// Transport security with real node processes on loopback: TLS with mutual authentication (a node whose certificate
/// comes from another CA cannot join), a peer sending undecodable payloads is quarantined without slowing its
/// neighbours' rounds, and a node running another config is refused with a clear message.
/// </summary>
[Collection("processes")]
public sealed class SecurityTests : IDisposable
{
    private const string Secret = "test-secret";
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-security").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string[] NodeArgs(string cfg, string agents, int port, int[] ports, string outDir, params string[] extra) =>
        ["--config", cfg, "--agent", agents, "--port", port.ToString(), "--seed-nodes", string.Join(',', ports.Select(p => $"127.0.0.1:{p}")),
         "--out", outDir, .. extra];

    [Fact]
    public void A_run_with_mutual_tls_finishes_and_a_node_with_a_certificate_of_another_ca_cannot_join()
    {
        string ca1 = Path.Combine(_dir, "ca1"), ca2 = Path.Combine(_dir, "ca2");
        Assert.Equal(0, Parse.Cli.Program.Main(["cert", "--out", ca1, "--nodes", "2"]));
        TestCertificates.Create(ca2, 1, password: null);
        // long enough that the honest run outlasts the rogue's join attempt on an idle machine too
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 300").Replace("local_steps: 4", "local_steps: 2")
            .Replace("eval: { every: 3 }", "eval: { every: 150 }")
            .Replace("cluster: { ", $"cluster: {{ tls: {{ enabled: true, ca: ca1/ca.crt, certificate: \"ca1/node-{{process}}.pfx\" }}, "));
        var ports = Launcher.FreePorts(3);
        var honest = ports[..2];
        var outs = Enumerable.Range(0, 3).Select(k => Path.Combine(_dir, $"node{k}")).ToArray();
        using var p0 = new NodeProcess(NodeArgs(cfg, "0,1,2", honest[0], honest, outs[0], "--tls-cert", Path.Combine(ca1, "node-0.pfx")), Secret);
        using var p1 = new NodeProcess(NodeArgs(cfg, "3,4,5", honest[1], honest, outs[1], "--tls-cert", Path.Combine(ca1, "node-1.pfx")), Secret);
        // started with the honest nodes, so that it tries to join while they run: the right secret and config, but a
        // certificate from another CA; the TLS handshakes fail and it never joins
        using (var rogue = new NodeProcess(NodeArgs(cfg, "1", ports[2], honest, outs[2], "--tls-cert", Path.Combine(ca2, "node-0.pfx"),
                   "--set", "cluster.discovery_timeout_ms=8000"), Secret))
        {
            p0.WaitUntil(() => p0.Output.Contains("admitted akka"), TimeSpan.FromSeconds(300), "the TLS cluster to form");
            Assert.Contains("TLS on (mutual)", p0.Output);
            Assert.Contains("admitted akka.ssl.tcp://", p0.Output);
            rogue.ExpectExit(NodeHost.ExitNotJoined, TimeSpan.FromSeconds(300), "rogue");
            Assert.Contains("could not join", rogue.Output);
        }
        Assert.False(p0.HasExited && p1.HasExited, "the honest nodes were still running while the rogue tried to join");
        p0.ExpectExit(0, TimeSpan.FromSeconds(400), "p0");
        p1.ExpectExit(0, TimeSpan.FromSeconds(120), "p1");
        Assert.DoesNotContain($"127.0.0.1:{ports[2]} hosting", p0.Output + p1.Output);
        var reports = RunMerger.ReadReports(outs[..2], 6);
        Assert.All(reports, r => Assert.Equal(300, r.RoundsCompleted));
        Assert.All(reports, r => Assert.InRange(r.FinalAccuracy, 0, 1));
        Assert.All(reports, r => Assert.Equal(0, r.DeadlineRounds));
    }

    [Fact]
    public void A_garbage_peer_is_quarantined_without_deadline_rounds_and_a_node_with_another_config_is_refused()
    {
        // a long deadline: a round that waited for it would show in deadline_rounds (and take 20 s)
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 30").Replace("local_steps: 4", "local_steps: 2")
            .Replace("eval: { every: 3 }", "eval: { every: 15 }").Replace("timing: { deadline_ms: 30000 }", "timing: { deadline_ms: 20000 }"));
        var ports = Launcher.FreePorts(4);
        var honest = ports[..3];
        var outs = Enumerable.Range(0, 4).Select(k => Path.Combine(_dir, $"node{k}")).ToArray();
        using var p0 = new NodeProcess(NodeArgs(cfg, "0,1", honest[0], honest, outs[0]), Secret);
        using var p1 = new NodeProcess(NodeArgs(cfg, "2,3", honest[1], honest, outs[1]), Secret);
        using var p2 = new NodeProcess(NodeArgs(cfg, "4,5", honest[2], honest, outs[2], "--fault", "Garbage"), Secret);
        // same secret, another experiment (one --set differs): refused with a clear message, exit 3. Started with the
        // others: a process started once the cluster had formed could come up (slowly, on a loaded machine) after the
        // honest processes had run their 30 short rounds and left, and find no seed node to be refused by.
        string otherOutput;
        using (var other = new NodeProcess(NodeArgs(cfg, "1", ports[3], honest, outs[3], "--set", "train.local_steps=3"), Secret))
        {
            p0.WaitUntil(() => new[] { p0, p1, p2 }.All(p => p.Output.Contains("admitted akka")), TimeSpan.FromSeconds(300), "the cluster to form");
            other.ExpectExit(NodeHost.ExitNotAdmitted, TimeSpan.FromSeconds(300), "node with another config");
            // the refused node says why when the denial reaches it before the honest nodes down it; either way it is not admitted
            Assert.True(other.Output.Contains("different experiment config") || other.Output.Contains("not admitted"), other.Output);
            Assert.False(File.Exists(Path.Combine(outs[3], AgentReport.FileName(1))));
            otherOutput = other.Output;
        }
        p0.ExpectExit(0, TimeSpan.FromSeconds(400), "p0");
        p1.ExpectExit(0, TimeSpan.FromSeconds(120), "p1");
        p2.ExpectExit(0, TimeSpan.FromSeconds(120), "p2");
        // whichever side checked the other's proof first names the reason (the refused node stops when it sees it first)
        Assert.Contains("different experiment config", otherOutput + p0.Output + p1.Output + p2.Output);

        var reports = RunMerger.ReadReports(outs[..3], 6);
        // ring 0-1-2-3-4-5-0: agent 0 borders 5 and agent 3 borders 4; both quarantine the garbage sender
        Assert.Contains(5, reports[0].Quarantined);
        Assert.Contains(4, reports[3].Quarantined);
        Assert.True(reports[0].Security.GetValueOrDefault("undecodable") >= 3);
        Assert.Contains("quarantined", p0.Output);
        // undecodable payloads count as answers from the first one (also one that arrives while the receiver is still
        // discovering its overlays): no honest agent waited for a deadline because of them. (On a heavily loaded machine
        // a node may drop a neighbour process for a moment while that process keeps it: the dropping side skips rounds
        // for the other and costs it a deadline round whatever it sends. The dropping agent's events show it, so such
        // rounds are told apart from garbage waits.)
        bool membershipHiccup = reports.Any(r => r.Events.Any(e => e.Contains("dropped") || e.Contains("readmitted")));
        Assert.All(reports[..4], r => Assert.True(r.DeadlineRounds == 0 || membershipHiccup,
            $"agent {r.Agent}: {r.DeadlineRounds} deadline rounds with no membership event:\n{string.Join("\n", r.Events)}\n{p0.Output}\n{p1.Output}\n{p2.Output}"));
        Assert.All(reports, r => Assert.Equal(30, r.RoundsCompleted));
        // nothing forged or replayed among honest processes
        Assert.All(reports, r => Assert.Equal(0, r.Security.GetValueOrDefault("bad_mac") + r.Security.GetValueOrDefault("replayed") + r.Security.GetValueOrDefault("forged_sender")));
    }
}
