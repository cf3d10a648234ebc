using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>run.json, comparable columns, per-type accuracy figures, live metrics and marked partial directories.</summary>
[Collection("cli")]
public class RunTrackingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-track").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static ExperimentConfig Cfg(params string[] sets) =>
        TestConfigs.Load(["rounds=3", "eval.every=1", "eval.embeddings=false", .. sets]);

    private sealed class Callback(Action<RoundProgress> f) : IProgress<RoundProgress>
    {
        public void Report(RoundProgress value) => f(value);
    }

    [Fact]
    public void A_run_writes_run_json_comparable_columns_per_type_figures_and_unescaped_json()
    {
        string outDir = Path.Combine(_dir, "cmp-1");
        var cfg = Cfg();
        var before = DateTime.UtcNow.AddSeconds(-1);
        ExperimentRunner.Run(cfg, outDir, _dir);
        Assert.False(Directory.Exists(outDir + ".partial"));

        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "run.json")))!;
        Assert.Equal("cmp-1", info["run"]!.GetValue<string>());
        Assert.Equal("completed", info["status"]!.GetValue<string>());
        Assert.Null(info["reason"]);
        Assert.Equal(("parse", 3), (info["strategy"]!.GetValue<string>(), info["seed"]!.GetValue<int>()));
        Assert.False(string.IsNullOrWhiteSpace(info["tool_version"]!.GetValue<string>()));
        Assert.Equal(RunInfo.ToolVersion, info["tool_version"]!.GetValue<string>());
        if (RunInfo.GitCommit(AppContext.BaseDirectory) is { } commit) Assert.Equal(commit, info["git_commit"]!.GetValue<string>());
        var start = DateTime.Parse(info["started_utc"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind);
        var end = DateTime.Parse(info["ended_utc"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind);
        Assert.Equal(DateTimeKind.Utc, start.Kind);
        Assert.EndsWith("Z", info["started_utc"]!.GetValue<string>());
        Assert.True(start >= before && end >= start && end <= DateTime.UtcNow.AddSeconds(1), $"{start:O} .. {end:O}");
        Assert.Equal(Environment.MachineName, info["host"]!.GetValue<string>());
        Assert.Contains(".NET", info["dotnet"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(info["os"]!.GetValue<string>()));
        Assert.NotEmpty(info["command_line"]!.AsArray());

        var csv = File.ReadAllLines(Path.Combine(outDir, "metrics.csv"));
        Assert.StartsWith("run,strategy,seed,round,agent,type,accuracy,", csv[0]);
        Assert.Equal(12 * 3, csv.Length - 1);
        Assert.All(csv.Skip(1), l => Assert.StartsWith("cmp-1,parse,3,", l));
        var links = File.ReadAllLines(Path.Combine(outDir, "links.csv"));
        Assert.Equal("run,strategy,seed,from,to,bytes", links[0]);
        Assert.True(links.Length > 1);
        Assert.All(links.Skip(1), l => Assert.StartsWith("cmp-1,parse,3,", l));
        var rows = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(12 * 3, rows.Count);
        Assert.All(rows, r => Assert.Equal(("cmp-1", "parse", 3), (r["run"]!.GetValue<string>(), r["strategy"]!.GetValue<string>(), r["seed"]!.GetValue<int>())));

        foreach (var type in new[] { "a", "b", "a+b" })
        {
            string png = Path.Combine(outDir, RunWriter.AccuracyPlotName(type));
            var bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 1000 && bytes[..8].SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }), $"{png} is not a PNG");
        }
        Assert.Equal("accuracy_a_b.png", RunWriter.AccuracyPlotName("a+b"));

        // JSON keeps '+' as it is
        foreach (var f in new[] { "summary.json", "metrics.jsonl", "config.json", "run.json" })
            Assert.DoesNotContain("\\u002B", File.ReadAllText(Path.Combine(outDir, f)));
        Assert.Contains("\"a+b\":", File.ReadAllText(Path.Combine(outDir, "summary.json")));
        Assert.Contains("\"type\":\"a+b\"", File.ReadAllText(Path.Combine(outDir, "metrics.jsonl")));
    }

    [Fact]
    public void Metrics_are_appended_to_the_partial_directory_at_every_evaluation_and_a_failing_run_keeps_it_marked()
    {
        string outDir = Path.Combine(_dir, "fails");
        string partial = outDir + ".partial";
        var seen = new List<int>();
        var progress = new Callback(p =>
        {
            if (!p.Evaluated) return;
            // the round's metrics are already on disk when the progress is reported
            Assert.True(File.Exists(Path.Combine(partial, RunDirectory.RunningMarker)));
            var lines = File.ReadAllLines(Path.Combine(partial, "metrics.jsonl"));
            seen.Add(lines.Length);
            Assert.All(lines, l => Assert.Equal("fails", JsonNode.Parse(l)!["run"]!.GetValue<string>()));
            if (p.Round == 2) throw new InvalidOperationException("boom at round 2");
        });
        var e = Assert.ThrowsAny<Exception>(() => ExperimentRunner.Run(Cfg(), outDir, _dir, progress));
        Assert.Contains("boom at round 2", e.ToString());
        Assert.Equal(new[] { 12, 24 }, seen);
        Assert.False(Directory.Exists(outDir));
        Assert.True(Directory.Exists(partial));
        Assert.Contains("boom at round 2", File.ReadAllText(Path.Combine(partial, RunDirectory.FailedMarker)));
        Assert.False(File.Exists(Path.Combine(partial, RunDirectory.RunningMarker)));
        Assert.Equal(24, File.ReadAllLines(Path.Combine(partial, "metrics.jsonl")).Length);
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(partial, "run.json")))!;
        Assert.Equal("failed", info["status"]!.GetValue<string>());
        Assert.Contains("boom at round 2", info["reason"]!.GetValue<string>());
        Assert.NotNull(info["ended_utc"]);

        // a new run of the same name replaces the stale partial directory and completes
        ExperimentRunner.Run(Cfg("rounds=1"), outDir, _dir);
        Assert.True(File.Exists(Path.Combine(outDir, "summary.json")));
        Assert.False(Directory.Exists(partial));
        Assert.False(File.Exists(Path.Combine(outDir, RunDirectory.FailedMarker)));
    }

    [Fact]
    public void A_cancelled_run_keeps_its_partial_directory_marked_interrupted()
    {
        string outDir = Path.Combine(_dir, "stopped");
        using var cts = new CancellationTokenSource();
        var progress = new Callback(p => { if (p.Round == 1) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => ExperimentRunner.Run(Cfg(), outDir, _dir, progress, ct: cts.Token));
        Assert.False(Directory.Exists(outDir));
        string partial = outDir + ".partial";
        Assert.Contains("cancelled", File.ReadAllText(Path.Combine(partial, RunDirectory.InterruptedMarker)));
        Assert.Equal("interrupted", JsonNode.Parse(File.ReadAllText(Path.Combine(partial, "run.json")))!["status"]!.GetValue<string>());
        Assert.Equal(12, File.ReadAllLines(Path.Combine(partial, "metrics.jsonl")).Length);
    }

    [Fact]
    public void A_partial_directory_of_a_live_process_is_not_taken_over()
    {
        string outDir = Path.Combine(_dir, "busy");
        Directory.CreateDirectory(outDir + ".partial");
        using var other = System.Diagnostics.Process.GetProcesses().First(p => p.Id != Environment.ProcessId && !p.HasExited);
        File.WriteAllText(Path.Combine(outDir + ".partial", RunDirectory.RunningMarker), $"{other.Id}\n");
        var e = Assert.Throws<ConfigException>(() => RunDirectory.Create(outDir, overwrite: false));
        Assert.Contains("being written by a running process", e.Message);
    }

    [Fact]
    public void Markdown_cells_escape_pipes_and_csv_fields_are_quoted()
    {
        Assert.Equal("a+b\\|synergy", RunWriter.MdCell("a+b|synergy"));
        Assert.Equal("a b", RunWriter.MdCell("a\nb"));
        Assert.Equal("plain", RunWriter.CsvField("plain"));
        Assert.Equal("\"x,y\"", RunWriter.CsvField("x,y"));
        Assert.Equal("\"say \"\"hi\"\"\"", RunWriter.CsvField("say \"hi\""));
    }

    [Fact]
    public void The_report_escapes_pipes_in_overlay_keys()
    {
        string outDir = Path.Combine(_dir, "md");
        ExperimentRunner.Run(Cfg("rounds=1"), outDir, _dir);
        var report = File.ReadAllLines(Path.Combine(outDir, "report.md"));
        var overlayRows = report.SkipWhile(l => !l.StartsWith("## Overlays", StringComparison.Ordinal)).Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(overlayRows);
        // every table row has exactly the header's number of unescaped separators
        int Cells(string l) => System.Text.RegularExpressions.Regex.Matches(l, @"(?<!\\)\|").Count;
        var header = report.First(l => l.StartsWith("| key |", StringComparison.Ordinal));
        Assert.All(overlayRows, r => Assert.Equal(Cells(header), Cells(r)));
    }

    [Fact]
    public void Git_commit_is_read_from_files_for_repositories_worktrees_packed_refs_and_detached_heads()
    {
        string sha1 = new('a', 40), sha2 = new('b', 40), sha3 = new('c', 40);
        // a repository with a loose ref
        string repo = Path.Combine(_dir, "repo");
        Directory.CreateDirectory(Path.Combine(repo, ".git", "refs", "heads"));
        Directory.CreateDirectory(Path.Combine(repo, "src", "deep"));
        File.WriteAllText(Path.Combine(repo, ".git", "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(repo, ".git", "refs", "heads", "main"), sha1 + "\n");
        Assert.Equal(sha1, RunInfo.GitCommit(Path.Combine(repo, "src", "deep")));
        // packed ref
        File.WriteAllText(Path.Combine(repo, ".git", "HEAD"), "ref: refs/heads/packed\n");
        File.WriteAllText(Path.Combine(repo, ".git", "packed-refs"), $"# pack-refs with: peeled\n{sha2} refs/heads/packed\n");
        Assert.Equal(sha2, RunInfo.GitCommit(repo));
        // a worktree: .git file -> gitdir with its own HEAD; the ref lives in the common directory
        string wt = Path.Combine(_dir, "wt");
        string wtGit = Path.Combine(repo, ".git", "worktrees", "wt");
        Directory.CreateDirectory(wt);
        Directory.CreateDirectory(wtGit);
        File.WriteAllText(Path.Combine(wt, ".git"), $"gitdir: {wtGit}\n");
        File.WriteAllText(Path.Combine(wtGit, "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(wtGit, "commondir"), "../..\n");
        Assert.Equal(sha1, RunInfo.GitCommit(wt));
        // detached
        File.WriteAllText(Path.Combine(wtGit, "HEAD"), sha3 + "\n");
        Assert.Equal(sha3, RunInfo.GitCommit(wt));
        // unborn branch
        File.WriteAllText(Path.Combine(repo, ".git", "HEAD"), "ref: refs/heads/none\n");
        Assert.Null(RunInfo.GitCommit(repo));
    }
}
