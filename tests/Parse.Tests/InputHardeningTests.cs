using Parse.Bench;
using Parse.Config;
using Parse.Data;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>
/// Issue 10, item 8: inputs that used to mislead without an error. Each case gets its clear message (naming the
/// <c>--set</c> argument, the file, the field) and, through the CLI, exit code 2.
/// </summary>
[Collection("cli")]
public class InputHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-inputs").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string ErrorOf(Action a) => Assert.Throws<ConfigException>(a).Message;

    // --- one error path for config and --set failures -------------------------------------------------------------

    [Fact]
    public void A_type_error_from_set_names_the_argument_and_the_accepted_values_in_words()
    {
        string file = Write("exp.yaml", TestConfigs.Small);
        string msg = ErrorOf(() => ConfigLoader.Load(file, ["agents.count=many"]));
        Assert.Contains("--set 'agents.count=many'", msg);
        Assert.Contains($"an integer in {int.MinValue}..{int.MaxValue}", msg);
        Assert.Contains("\"many\"", msg);
        Assert.DoesNotContain("System.Int32", msg);
        Assert.DoesNotContain(file, msg);
        // a nested list element
        string split = ErrorOf(() => ConfigLoader.Load(file, ["model.split=[8,x,8]"]));
        Assert.Contains("--set 'model.split=[8,x,8]'", split);
        Assert.Contains("model.split[1]' must be an integer in", split);
        // a bool
        Assert.Contains("true or false", ErrorOf(() => ConfigLoader.Load(file, ["sim.batch_agents=maybe"])));
        // a mapping where a number is expected (a path below a scalar) still names the argument
        Assert.Contains("--set 'rounds.x=1'", ErrorOf(() => ConfigLoader.Load(file, ["rounds.x=1"])));
    }

    [Fact]
    public void A_type_error_in_the_file_names_the_file()
    {
        string file = Write("exp.yaml", TestConfigs.Small.Replace("rounds: 4", "rounds: four"));
        string msg = ErrorOf(() => ConfigLoader.Load(file));
        Assert.StartsWith(file + ":", msg);
        Assert.Contains("'rounds' must be an integer", msg);
        Assert.DoesNotContain("--set", msg);
    }

    [Theory]
    [InlineData("model.split=[8,8", "not valid YAML")]
    [InlineData("rounds=*nothing", "not valid YAML")]
    [InlineData("model..split=3", "not a dotted path")]
    [InlineData("rounds", "expected key=value")]
    public void A_malformed_set_argument_is_named(string set, string expected)
    {
        string file = Write("exp.yaml", TestConfigs.Small);
        string msg = ErrorOf(() => ConfigLoader.Load(file, [set]));
        Assert.Contains($"--set '{set}'", msg);
        Assert.Contains(expected, msg);
    }

    [Fact]
    public void Yaml_problems_name_the_file_and_line()
    {
        string file = Write("bad.yaml", "name: x\nrounds: [1, 2\n");
        Assert.Contains(file + ": invalid YAML at line", ErrorOf(() => ConfigLoader.Load(file)));
        string key = Write("key.yaml", "? [a, b]\n: 1\n");
        string msg = ErrorOf(() => ConfigLoader.Load(key));
        Assert.Contains(key, msg);
        Assert.Contains("a key must be a plain name", msg);
    }

    // --- limits checked before work -------------------------------------------------------------------------------

    [Fact]
    public void A_yaml_alias_bomb_is_refused_before_it_expands()
    {
        var sb = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++) sb.Append($"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n");
        string file = Write("bomb.yaml", sb.ToString());
        Assert.True(new FileInfo(file).Length < 1000);
        string msg = ErrorOf(() => ConfigLoader.Load(file));
        Assert.Contains(file, msg);
        Assert.Contains($"more than {ConfigLoader.MaxNodes} values", msg);
    }

    [Fact]
    public void An_oversized_or_empty_config_is_refused()
    {
        string big = Write("big.yaml", TestConfigs.Small + "\n# " + new string('x', ConfigLoader.MaxConfigBytes) + "\n");
        Assert.Contains("at most", ErrorOf(() => ConfigLoader.Load(big)));
        string empty = Write("empty.yaml", "# nothing here\n\n");
        Assert.Contains("the config file is empty", ErrorOf(() => ConfigLoader.Load(empty)));
        Assert.Equal(2, Parse.Cli.Program.Main(["validate", empty]));
        Assert.Contains("is a directory", ErrorOf(() => ConfigLoader.Load(_dir)));
    }

    [Fact]
    public void An_absurd_agent_count_is_refused_with_an_estimate_unless_max_agents_is_raised()
    {
        string msg = ErrorOf(() => TestConfigs.Load("agents.count=100000"));
        Assert.Contains("agents.count: 100,000 agents is more than sim.max_agents=10,000", msg);
        Assert.Contains("GiB", msg);
        Assert.Contains("sim.max_agents=100000", msg);
        // raising the limit is the flag: validation then passes (nothing is built here)
        var cfg = TestConfigs.Load("agents.count=100000", "sim.max_agents=100000");
        Assert.Equal(100000, cfg.Agents.Count);
        Assert.Contains("sim.max_agents", ErrorOf(() => TestConfigs.Load("sim.max_agents=0")));
    }

    [Theory]
    [InlineData("/tmp/elsewhere")]
    [InlineData("../outside")]
    [InlineData("a/b")]
    [InlineData("..")]
    public void A_run_name_that_is_a_path_is_refused(string name)
    {
        string msg = ErrorOf(() => TestConfigs.Load($"name={name}"));
        Assert.Contains($"name: '{name}'", msg);
        Assert.Contains("runs/", msg);
    }

    [Fact]
    public void Setup_stops_when_cancelled_and_leaves_no_run_directory()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => new Simulator(TestConfigs.Load(), ".", cts.Token));
        string outDir = Path.Combine(_dir, "cancelled");
        Assert.ThrowsAny<OperationCanceledException>(() => ExperimentRunner.Run(TestConfigs.Load(), outDir, ".", ct: cts.Token));
        Assert.False(Directory.Exists(outDir));
        Assert.False(Directory.Exists(outDir + ".partial"));
    }

    // --- the output place -----------------------------------------------------------------------------------------

    [Fact]
    public void An_out_path_that_is_a_file_or_unwritable_is_refused_before_training()
    {
        string cfg = Write("exp.yaml", TestConfigs.Small);
        string file = Write("taken", "not a directory");
        Assert.Contains("is an existing file", ErrorOf(() => RunDirectory.Create(file, false)));
        Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", file, "--quiet"]));
        // below a file: the directory cannot be created
        Assert.Contains("cannot write the run directory", ErrorOf(() => RunDirectory.Create(Path.Combine(file, "run"), false)));
        Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", Path.Combine(file, "run"), "--quiet"]));
    }

    [Fact]
    public void Stale_partial_directories_of_dead_processes_are_removed_on_start_and_marked_ones_kept()
    {
        string runs = Path.Combine(_dir, "runs");
        string dead = Path.Combine(runs, "killed-run.partial");
        string interrupted = Path.Combine(runs, "stopped-run.partial");
        string recycled = Path.Combine(runs, "recycled-pid.partial");
        foreach (var d in new[] { dead, interrupted, recycled }) Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(dead, RunDirectory.RunningMarker), "2147483646 0\n");           // no such process
        File.WriteAllText(Path.Combine(interrupted, RunDirectory.RunningMarker), "2147483646 0\n");
        File.WriteAllText(Path.Combine(interrupted, RunDirectory.InterruptedMarker), "interrupted: SIGTERM\n");
        // pid 1 exists, but it started at another time than the writer recorded: a recycled id
        File.WriteAllText(Path.Combine(recycled, RunDirectory.RunningMarker), "1 42\n");
        using (var dir = RunDirectory.Create(Path.Combine(runs, "new-run"), false)) dir.Abandon();
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(recycled));
        Assert.True(Directory.Exists(interrupted));
    }

    // --- silent cases that are errors now ---------------------------------------------------------------------------

    [Fact]
    public void An_empty_or_disconnected_topology_file_is_refused()
    {
        string empty = Write("empty-edges.txt", "# no edges\n\n");
        string msg = ErrorOf(() => new Simulator(TestConfigs.Load("topology.kind=file", $"topology.file={empty}"), _dir).Dispose());
        Assert.Contains("empty-edges.txt has no edges", msg);
        Assert.Contains("strategy: local", msg);

        // 12 agents: a ring over 0..5 and one over 6..11
        var lines = Enumerable.Range(0, 6).Select(i => $"{i} {(i + 1) % 6}").Concat(Enumerable.Range(0, 6).Select(i => $"{6 + i} {6 + (i + 1) % 6}"));
        string islands = Write("islands.txt", string.Join("\n", lines) + "\n");
        msg = ErrorOf(() => new Simulator(TestConfigs.Load("topology.kind=file", $"topology.file={islands}"), _dir).Dispose());
        Assert.Contains("islands.txt is not connected", msg);
        Assert.Contains("topology.allow_disconnected=true", msg);
        string lonely = Write("lonely.txt", string.Join("\n", Enumerable.Range(0, 10).Select(i => $"{i} {i + 1}")) + "\n");
        Assert.Contains("agent(s) 11 have no edge", ErrorOf(() => new Simulator(TestConfigs.Load("topology.kind=file", $"topology.file={lonely}"), _dir).Dispose()));
        // on purpose: accepted
        using var sim = new Simulator(TestConfigs.Load("topology.kind=file", $"topology.file={islands}", "topology.allow_disconnected=true", "rounds=1"), _dir);
        Assert.Equal(12, sim.Agents.Count);
    }

    [Fact]
    public void A_truncated_wav_is_an_error_not_silence()
    {
        byte[] full = Wav(400);
        Assert.Equal(400, WavReader.Parse(full, "ok.wav").Samples.Length);
        string msg = ErrorOf(() => WavReader.Parse(full.AsSpan(0, 44 + 100).ToArray(), "cut.wav"));
        Assert.Contains("cut.wav: truncated WAV file", msg);
        Assert.Contains("declares 800 bytes but only 100 follow", msg);
        Assert.Contains("no complete sample", ErrorOf(() => WavReader.Parse(Wav(0), "empty.wav")));
    }

    /// <summary>A mono 16-bit PCM WAV of <paramref name="samples"/> samples at 8 kHz.</summary>
    internal static byte[] Wav(int samples)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("RIFF"u8); w.Write(36 + 2 * samples); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(16); w.Write((short)1); w.Write((short)1); w.Write(8000); w.Write(16000); w.Write((short)2); w.Write((short)16);
        w.Write("data"u8); w.Write(2 * samples);
        for (int i = 0; i < samples; i++) w.Write((short)(1000 * Math.Sin(i * 0.1)));
        return ms.ToArray();
    }

    [Fact]
    public void A_bench_axis_with_a_repeated_value_is_refused()
    {
        Write("base.yaml", TestConfigs.Small);
        string grid = Write("grid.yaml", "base: base.yaml\naxes:\n  seed: [1, 1, 2]\n");
        string msg = ErrorOf(() => GridSpec.Load(grid));
        Assert.Contains("axes.seed lists the value '1' 2 times", msg);
    }

    [Fact]
    public void Two_bundle_names_that_share_a_result_folder_are_refused()
    {
        Write("base.yaml", TestConfigs.Small);
        string grid = Write("grid.yaml", "base: base.yaml\naxes:\n  method:\n    'a/b': { strategy: parse }\n    'a:b': { strategy: local }\n");
        string msg = ErrorOf(() => GridSpec.Load(grid));
        Assert.Contains("'method=a/b' and 'method=a:b'", msg);
        Assert.Contains("cells/method=a_b", msg);
    }

    [Fact]
    public void A_resumed_bench_with_other_overrides_reruns_the_changed_cells_instead_of_reusing_them()
    {
        Write("base.yaml", TestConfigs.Small);
        string file = Write("grid.yaml", "base: base.yaml\nset: [rounds=1, eval.every=1]\naxes:\n  strategy: [parse, local]\n");
        var grid = GridSpec.Load(file);
        string outDir = Path.Combine(_dir, "bench");
        var first = new List<BenchProgress>();
        BenchRunner.Run(grid, outDir, new Progress(first.Add));
        Assert.All(first, p => Assert.False(p.Skipped));

        // same grid: every cell is reused
        var same = new List<BenchProgress>();
        BenchRunner.Run(grid, outDir, new Progress(same.Add));
        Assert.All(same, p => Assert.True(p.Skipped));

        // the same grid resumed with another override (what `parse bench --set` adds): every cell is rerun, and its config.json says so
        var changed = new GridSpec { Name = grid.Name, BasePath = grid.BasePath, Set = [.. grid.Set, "train.lr=0.002"], Axes = grid.Axes, Baseline = grid.Baseline };
        var second = new List<BenchProgress>();
        BenchRunner.Run(changed, outDir, new Progress(second.Add));
        Assert.All(second, p => { Assert.False(p.Skipped); Assert.True(p.Changed); });
        foreach (var c in changed.Cells())
            Assert.Contains("\"lr\": 0.002", File.ReadAllText(Path.Combine(BenchRunner.CellDir(outDir, c), "config.json")));
    }

    private sealed class Progress(Action<BenchProgress> f) : IProgress<BenchProgress>
    {
        public void Report(BenchProgress value) => f(value);
    }

    // --- usage errors exit 2 --------------------------------------------------------------------------------------

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("run", "--no-such-option")]
    [InlineData("bench")]
    public void Every_usage_error_exits_2(params string[] args)
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        int code;
        try { code = Parse.Cli.Program.Main(args); }
        finally { Console.SetError(old); }
        Assert.Equal(2, code);
        Assert.Contains("error:", err.ToString());
    }
}
