using Parse.Cluster.Checkpoints;
using Parse.Cluster.Launch;

namespace Parse.Cluster.Tests;

/// <summary>A cluster run stopped at a round boundary and resumed equals an uninterrupted run, parameter for parameter.</summary>
[Collection("processes")]
public sealed class ExactResumeClusterTests : IDisposable
{
    private const string Secret = "test-secret";
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-exact").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private (string Out, NodeProcess Node)[] Start(string cfg, string name, params string[] extra)
    {
        var ports = Launcher.FreePorts(3);
        string seeds = string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));
        return Enumerable.Range(0, 3).Select(k =>
        {
            string outDir = Path.Combine(_dir, name, $"node{k}");
            return (outDir, new NodeProcess(["--config", cfg, "--agent", $"{2 * k},{2 * k + 1}", "--port", ports[k].ToString(), "--seed-nodes", seeds,
                "--out", outDir, .. extra], Secret));
        }).ToArray();
    }

    private static void ExpectAll((string Out, NodeProcess Node)[] nodes, string what)
    {
        foreach (var (_, n) in nodes) n.ExpectExit(0, TimeSpan.FromSeconds(240), what);
        foreach (var (_, n) in nodes) n.Dispose();
    }

    /// <summary>
    /// Also with a mixing rule that remembers per-agent state across rounds (clipped gossip's own-history radius, with
    /// sign-flip attackers so that it drops neighbours): the memory travels in the checkpoint.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("mixing: { rule: clipped-gossip, radius: own-history, outliers: drop }\nattack: { kind: sign-flip, fraction: 0.34, scale: 3 }\n")]
    public void A_run_stopped_after_round_4_and_resumed_ends_with_the_same_parameters_as_an_uninterrupted_run(string extra)
    {
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 8")
            .Replace("cluster: { discovery_quiet_ms", "cluster: { checkpoint_every: 4, discovery_quiet_ms").Replace("linger_ms: 5000", "linger_ms: 60000") + "\n" + extra);
        ExpectAll(Start(cfg, "straight"), "uninterrupted run");
        var stopped = Start(cfg, "stopped", "--stop-after", "4");
        ExpectAll(stopped, "run stopped after round 4");
        Assert.All(stopped, s => Assert.True(File.Exists(Path.Combine(s.Out, "checkpoints", $"agent-{int.Parse(Path.GetFileName(s.Out)[4..]) * 2}-r000004.ckpt"))));
        // same directories, resumed (the ports may change: membership is by address, checkpoints by agent id)
        var ports = Launcher.FreePorts(3);
        string seeds = string.Join(',', ports.Select(p => $"127.0.0.1:{p}"));
        var resumed = Enumerable.Range(0, 3).Select(k => (stopped[k].Out, new NodeProcess(["--config", cfg, "--agent", $"{2 * k},{2 * k + 1}", "--port", ports[k].ToString(),
            "--seed-nodes", seeds, "--out", stopped[k].Out, "--resume"], Secret))).ToArray();
        ExpectAll(resumed, "resumed run");
        for (int a = 0; a < 6; a++)
        {
            int k = a / 2;
            var straight = CheckpointStore.TryRead(Path.Combine(_dir, "straight", $"node{k}", "checkpoints", $"agent-{a}-r000008.ckpt"), out string w1);
            var again = CheckpointStore.TryRead(Path.Combine(stopped[k].Out, "checkpoints", $"agent-{a}-r000008.ckpt"), out string w2);
            Assert.True(straight is not null, w1);
            Assert.True(again is not null, w2);
            Assert.Equal(straight!.Tensors.Keys.Order(), again!.Tensors.Keys.Order());
            foreach (var (name, (shape, values)) in straight.Tensors)
                Assert.True(values.AsSpan().SequenceEqual(again.Tensors[name].Values), $"agent {a}: tensor {name} differs after the resume");
            Assert.Equal(4, Parse.Cluster.Runtime.AgentReport.Read(Path.Combine(stopped[k].Out, Parse.Cluster.Runtime.AgentReport.FileName(a))).ResumedFromRound);
        }
    }
}
