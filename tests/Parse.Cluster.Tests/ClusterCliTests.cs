namespace Parse.Cluster.Tests;

/// <summary>Bad input to <c>parse node</c> / <c>parse launch</c> stops with exit code 2 before anything starts.</summary>
public sealed class ClusterCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-cluster-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("--agent", "6")]
    [InlineData("--agent", "x")]
    [InlineData("--seed-nodes", "nohostport")]
    [InlineData("--set", "topology.kind=random-gossip")]
    [InlineData("--set", "timing.deadline_ms=0")]
    public void Node_refuses_bad_input_with_exit_code_2(string option, string value)
    {
        string cfg = ClusterConfigs.Write(_dir);
        var args = new Dictionary<string, string> { ["--config"] = cfg, ["--agent"] = "0", ["--port"] = "0", ["--seed-nodes"] = "127.0.0.1:1", ["--out"] = Path.Combine(_dir, "n"), ["--secret"] = "s" };
        var list = args.Where(kv => kv.Key != option).SelectMany(kv => new[] { kv.Key, kv.Value }).Prepend("node").Concat([option, value]).ToArray();
        Assert.Equal(2, Parse.Cli.Program.Main(list));
    }

    [Fact]
    public void Node_refuses_an_empty_secret_unless_insecure_is_given()
    {
        string cfg = ClusterConfigs.Write(_dir);
        string[] common = ["node", "--config", cfg, "--port", "0", "--seed-nodes", "127.0.0.1:1", "--out", Path.Combine(_dir, "n")];
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try { Assert.Equal(2, Parse.Cli.Program.Main([.. common, "--agent", "0", "--secret", ""])); }
        finally { Console.SetError(old); }
        Assert.Contains("--insecure", err.ToString());
        Assert.False(Directory.Exists(Path.Combine(_dir, "n")));
        // with --insecure the secret check passes: the next error is the bad agent id
        Assert.Equal(2, Parse.Cli.Program.Main([.. common, "--insecure", "--secret", "", "--agent", "9"]));
    }

    [Fact]
    public void Launch_refuses_more_processes_than_agents_and_leaves_no_output()
    {
        string cfg = ClusterConfigs.Write(_dir);
        string outDir = Path.Combine(_dir, "out");
        Assert.Equal(2, Parse.Cli.Program.Main(["launch", cfg, "--processes", "7", "--out", outDir]));
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Chaos_reads_every_repeated_fault_option()
    {
        string cfg = ClusterConfigs.Write(_dir);
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        // the second --fault is read: its unknown name is the error (exit 2), before anything starts
        try { Assert.Equal(2, Parse.Cli.Program.Main(["chaos", cfg, "--out", Path.Combine(_dir, "c"), "--fault", "pause", "--fault", "bogus"])); }
        finally { Console.SetError(old); }
        Assert.Contains("unknown fault 'bogus'", err.ToString());
        Assert.False(Directory.Exists(Path.Combine(_dir, "c")));
    }
}
