using System.Text.Json.Nodes;

namespace Parse.Cluster.Tests;

/// <summary>
/// Churn on the cluster as real processes (<c>churn.processes</c>, docs/dynamics.md "Churn on the cluster"): the
/// newcomer's process is started by <c>parse launch</c> mid-run and joins by asking its overlay neighbours for their
/// groups; the leaver's process leaves the cluster at its leave round. Nothing here depends on which process is faster:
/// the assertions hold whatever round the newcomer's request arrives in.
/// </summary>
[Collection("processes")]
public sealed class ChurnClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-churn").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const int Newcomer = 5, Leaver = 3, JoinRound = 4, LeaveRound = 6;

    private JsonNode Launch(string name, params string[] sets)
    {
        string cfgPath = ClusterConfigs.Write(_dir);
        string outDir = Path.Combine(_dir, name);
        var args = new List<string> { "launch", cfgPath, "--processes", "2", "--out", outDir, "--timeout", "600" };
        foreach (var s in new[]
                 {
                     "rounds=10", "eval.every=1",
                     // generous: a round closed at its deadline here would be a protocol failure, not a slow machine
                     "timing.deadline_ms=180000",
                     // agents that finish before the newcomer's process is up stay (as they do for any unfinished
                     // neighbour) and answer its request: the test holds whichever comes first
                     "cluster.linger_ms=300000",
                     $"churn.join=[{{agents: [{Newcomer}], round: {JoinRound}}}]", $"churn.leave=[{{agents: [{Leaver}], round: {LeaveRound}}}]",
                 }.Concat(sets))
        {
            args.Add("--set");
            args.Add(s);
        }
        Assert.Equal(0, Parse.Cli.Program.Main(args.ToArray()));
        return JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "cluster.json")))!;
    }

    private static JsonNode Agent(JsonNode cluster, int id) => cluster["agents"]!.AsArray().First(a => a!["agent"]!.GetValue<int>() == id)!;

    private static List<string> Events(JsonNode cluster, int id) => Agent(cluster, id)["events"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();

    /// <summary>The newcomer's accuracy at its first evaluation (metrics.jsonl).</summary>
    private double FirstAccuracy(string name, int agent) =>
        File.ReadAllLines(Path.Combine(_dir, name, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(n => n["agent"]!.GetValue<int>() == agent).OrderBy(n => n["round"]!.GetValue<int>()).First()["accuracy"]!.GetValue<double>();

    [Fact]
    public void A_newcomer_process_started_mid_run_is_warm_started_and_a_leaver_process_leaves_cleanly()
    {
        var warm = Launch("warm");

        // four processes: two for the agents that stay, one started after round JoinRound - 1 closed, one that left
        var procs = warm["processes"]!["list"]!.AsArray();
        Assert.Equal(4, procs.Count);
        Assert.All(procs, p => Assert.Equal(0, p!["exit_code"]!.GetValue<int>()));
        var joiner = procs.Single(p => p!["started_after_round"] is not null)!;
        Assert.Equal([Newcomer], joiner["agents"]!.AsArray().Select(a => a!.GetValue<int>()));
        Assert.Equal(JoinRound - 1, joiner["started_after_round"]!.GetValue<int>());
        var leaver = procs.Single(p => p!["left_at_round"] is not null)!;
        Assert.Equal([Leaver], leaver["agents"]!.AsArray().Select(a => a!.GetValue<int>()));
        Assert.Equal(LeaveRound, leaver["left_at_round"]!.GetValue<int>());

        // the run finishes with every agent's rounds, and no round anywhere waits for its deadline (no deadline storm)
        Assert.All(warm["agents"]!.AsArray(), a => Assert.Equal(10, a!["rounds_completed"]!.GetValue<int>()));
        Assert.Equal(0, warm["deadline_rounds"]!.GetValue<int>());
        Assert.All(warm["agents"]!.AsArray(), a => Assert.Equal(0, a!["deadline_rounds"]!.GetValue<int>()));

        // the newcomer asked its neighbours and started from their groups
        var events = Events(warm, Newcomer);
        var joined = Assert.Single(events, e => e.Contains("joined:", StringComparison.Ordinal));
        Assert.Contains("warm start", joined, StringComparison.Ordinal);
        Assert.DoesNotContain("cold start", joined, StringComparison.Ordinal);
        Assert.Contains(events, e => e.Contains("warm start of ", StringComparison.Ordinal) && e.Contains("neighbour(s)", StringComparison.Ordinal));
        Assert.Contains(warm["agents"]!.AsArray(), a => a!["agent"]!.GetValue<int>() != Newcomer &&
            a["events"]!.AsArray().Any(e => e!.GetValue<string>().Contains($"answered the join request of agent {Newcomer}", StringComparison.Ordinal)));

        // the leaver's neighbours saw it finish (not drop out), and its process did not linger until the end
        foreach (var a in warm["agents"]!.AsArray().Where(a => a!["agent"]!.GetValue<int>() != Leaver))
            Assert.DoesNotContain(a!["events"]!.AsArray(), e => e!.GetValue<string>().Contains($"agent {Leaver} dropped", StringComparison.Ordinal));
        string leaverLog = File.ReadAllText(Path.Combine(_dir, "warm", "nodes", "node-2.log"));
        Assert.DoesNotContain("linger of", leaverLog, StringComparison.Ordinal);

        // the same churn with a cold start: the warm-started newcomer's first evaluation is above the cold one's
        var cold = Launch("cold", "churn.warm_start=false");
        Assert.Equal(0, cold["deadline_rounds"]!.GetValue<int>());
        Assert.Contains(Events(cold, Newcomer), e => e.Contains("cold start (churn.warm_start false)", StringComparison.Ordinal));
        Assert.True(FirstAccuracy("warm", Newcomer) > FirstAccuracy("cold", Newcomer) + 0.03,
            $"warm {FirstAccuracy("warm", Newcomer):F3}, cold {FirstAccuracy("cold", Newcomer):F3}");
    }
}
