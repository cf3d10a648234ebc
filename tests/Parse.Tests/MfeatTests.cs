using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>
/// The UCI Multiple Features data (six views of 2,000 digits, labels in their own file) from configs/mfeat.yaml; skipped,
/// with the reason, where ../shared/datasets/mfeat is not on the machine.
/// </summary>
public class MfeatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-mfeat").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Repo => DataPaths.FindRepoRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
    private static string ConfigPath => Path.Combine(Repo, "configs", "mfeat.yaml");
    private static string DataDir => Path.GetFullPath(Path.Combine(Repo, "..", "shared", "datasets", "mfeat"));

    private static void Require() =>
        Skip.If(!File.Exists(Path.Combine(DataDir, "labels.csv")), $"mfeat data unavailable: {DataDir} not found (see docs/datasets.md)");

    [SkippableFact]
    public void The_config_loads_six_views_of_2000_digits_with_the_labels_of_the_label_file()
    {
        Require();
        var cfg = ConfigLoader.Load(ConfigPath);
        using var d = MultiviewCsv.Load(cfg.Data, Path.GetDirectoryName(ConfigPath)!, cfg.Seed);
        Assert.Equal(2000, d.Train.Count + d.Test.Count);
        Assert.Equal(10, d.Train.NumClasses);
        var widths = d.Modalities.ToDictionary(m => m.Name, m => m.Size);
        Assert.Equal(new Dictionary<string, long> { ["fou"] = 76, ["fac"] = 216, ["kar"] = 64, ["pix"] = 240, ["zer"] = 47, ["mor"] = 6 }, widths);
        // the view files repeat the label in their last column: it must match labels.csv (digit = row / 200)
        var last = File.ReadLines(Path.Combine(DataDir, "mfeat-mor.csv")).Skip(1).Select(l => l.Split(',')[^1].Trim()).ToArray();
        var labels = File.ReadLines(Path.Combine(DataDir, "labels.csv")).Skip(1).Select(l => l.Trim()).ToArray();
        Assert.Equal(labels, last);
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => (i / 200).ToString()), labels);
        // agent types with 1, 2, 3 and 6 views
        Assert.Equal(new[] { 1, 2, 3, 6 }, cfg.Agents.Types!.Select(t => AgentTypes.Parse(t.Modalities).Count));
    }

    [SkippableFact]
    public void A_label_file_with_another_row_count_and_an_unknown_view_stop_with_exit_code_2()
    {
        Require();
        string text = File.ReadAllText(ConfigPath).Replace("../../shared/datasets/mfeat/", DataDir + "/");
        File.WriteAllLines(Path.Combine(_dir, "labels.csv"), File.ReadLines(Path.Combine(DataDir, "labels.csv")).Take(1500));
        string shortLabels = Path.Combine(_dir, "short.yaml");
        File.WriteAllText(shortLabels, text.Replace(DataDir + "/labels.csv", Path.Combine(_dir, "labels.csv")));
        var cfg = ConfigLoader.Load(shortLabels);
        var e = Assert.Throws<ConfigException>(() => MultiviewCsv.Load(cfg.Data, _dir, 1));
        Assert.Contains("has 2000 data rows but", e.Message);
        Assert.Contains("has 1499", e.Message);
        Assert.Equal(2, Parse.Cli.Program.Main(["run", shortLabels, "--out", Path.Combine(_dir, "out1"), "--quiet", "--set", "rounds=1"]));
        Assert.False(Directory.Exists(Path.Combine(_dir, "out1")));

        string unknown = Path.Combine(_dir, "unknown.yaml");
        File.WriteAllText(unknown, text.Replace("types: [mor,", "types: [digits,"));
        e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(unknown));
        Assert.Contains("agents.types[0]: unknown modality 'digits' (data has: fou, fac, kar, pix, zer, mor)", e.Message);
        Assert.Equal(2, Parse.Cli.Program.Main(["run", unknown, "--out", Path.Combine(_dir, "out2"), "--quiet"]));
    }

    [SkippableFact]
    public void Two_rounds_of_the_mfeat_config_run_and_every_agent_type_learns()
    {
        Require();
        var cfg = ConfigLoader.Load(ConfigPath, ["rounds=2", "eval.every=2", "agents.count=8", "agents.mix=2:2:2:2", "data.partition.min_partition_size=10"]);
        using var sim = new Simulation.Simulator(cfg, Path.GetDirectoryName(ConfigPath)!);
        var r = sim.Run();
        Assert.Equal(8, r.FinalAccuracy.Count);
        Assert.All(r.FinalAccuracy, a => Assert.True(a > 0.2, $"accuracy {a:F3} is not above chance (0.1)"));
    }
}
