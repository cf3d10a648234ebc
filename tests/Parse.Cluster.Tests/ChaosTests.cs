using System.Text.Json.Nodes;
using Parse.Cluster.Launch;

namespace Parse.Cluster.Tests;

/// <summary>
/// The CI chaos campaign: one crash trial (kill -9 and restart with --resume) on three local processes, and one trial each of
/// an admitted insider forging senders or replaying sealed payloads.
/// </summary>
[Collection("processes")]
public sealed class ChaosTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-chaos").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_one_trial_crash_campaign_finishes_with_no_corrupt_checkpoint_no_hung_node_and_no_healthy_node_downed()
    {
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 10").Replace("local_steps: 4", "local_steps: 2")
            .Replace("timing: { deadline_ms: 30000 }", "timing: { deadline_ms: 3000 }"));
        string outDir = Path.Combine(_dir, "chaos");
        var log = new StringWriter();
        var result = ChaosCampaign.Run(new ChaosOptions
        {
            ConfigPath = cfg, Processes = 3, Trials = 1, OutDir = outDir, Seed = 5, Faults = [ChaosFault.Kill],
            CliCommand = ["dotnet", Path.Combine(AppContext.BaseDirectory, "Parse.Cli.dll")], TrialTimeout = TimeSpan.FromMinutes(8),
        }, log);
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "chaos.json")))!;
        foreach (var key in new[] { "trials", "corrupt_checkpoints", "hung_nodes", "healthy_nodes_downed", "rounds_lost", "finished" })
            Assert.NotNull(saved[key]);
        string why = log + "\n" + File.ReadAllText(Path.Combine(outDir, "chaos.md"));
        Assert.True((int)result["finished"]! == 1, why);
        Assert.Equal(0, (int)result["corrupt_checkpoints"]!);
        Assert.Equal(0, (int)result["hung_nodes"]!);
        Assert.True((int)result["healthy_nodes_downed"]! == 0, why);
        Assert.Equal(0, (int)result["rounds_lost"]!);
        Assert.Contains("kill -9 after round", (string)result["trial_list"]![0]!["detail"]!);
        Assert.Contains("trial 1/1", log.ToString());
    }

    [Theory]
    [InlineData(ChaosFault.ForgedSender, "forged sender")]
    [InlineData(ChaosFault.ReplayedPayload, "replayed")]
    public void Forged_senders_and_replayed_payloads_of_an_admitted_peer_are_refused_and_counted_and_the_run_finishes(ChaosFault fault, string kind)
    {
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 8").Replace("local_steps: 4", "local_steps: 2")
            .Replace("timing: { deadline_ms: 30000 }", "timing: { deadline_ms: 20000 }"));
        string outDir = Path.Combine(_dir, "chaos");
        var log = new StringWriter();
        var result = ChaosCampaign.Run(new ChaosOptions
        {
            ConfigPath = cfg, Processes = 3, Trials = 1, OutDir = outDir, Seed = 5, Faults = [fault],
            CliCommand = ["dotnet", Path.Combine(AppContext.BaseDirectory, "Parse.Cli.dll")], TrialTimeout = TimeSpan.FromMinutes(8),
        }, log);
        var trial = result["trial_list"]![0]!;
        string why = log + "\n" + File.ReadAllText(Path.Combine(outDir, "chaos.md"));
        Assert.True((int)result["finished"]! == 1, why);
        Assert.True((string)trial["problem"]! == "", why);
        var m = System.Text.RegularExpressions.Regex.Match((string)trial["detail"]!, $@"(\d+) {kind} messages refused by the honest agents");
        Assert.True(m.Success, why);
        Assert.True(long.Parse(m.Groups[1].Value) > 0, why);
        Assert.Equal(0, (int)result["healthy_nodes_downed"]!);
    }

    [Fact]
    public void A_scaled_peer_trial_runs_with_the_robust_mixing_defence_and_finishes()
    {
        string cfg = ClusterConfigs.Write(_dir, ClusterConfigs.Small.Replace("rounds: 6", "rounds: 8").Replace("local_steps: 4", "local_steps: 2")
            .Replace("timing: { deadline_ms: 30000 }", "timing: { deadline_ms: 20000 }"));
        string outDir = Path.Combine(_dir, "chaos");
        var log = new StringWriter();
        var result = ChaosCampaign.Run(new ChaosOptions
        {
            ConfigPath = cfg, Processes = 3, Trials = 1, OutDir = outDir, Seed = 5, Faults = [ChaosFault.ScaledPeer],
            CliCommand = ["dotnet", Path.Combine(AppContext.BaseDirectory, "Parse.Cli.dll")], TrialTimeout = TimeSpan.FromMinutes(8),
        }, log);
        var trial = result["trial_list"]![0]!;
        string why = log + "\n" + File.ReadAllText(Path.Combine(outDir, "chaos.md"));
        // with metropolis mixing every loss diverges and the nodes exit 1; the campaign adds clipped gossip for this fault
        Assert.Contains("defence: mixing.rule=clipped-gossip", (string)trial["detail"]!);
        Assert.True((int)result["finished"]! == 1, why);
        Assert.True((string)trial["problem"]! == "", why);
        Assert.Equal(0, (int)result["healthy_nodes_downed"]!);
    }
}
