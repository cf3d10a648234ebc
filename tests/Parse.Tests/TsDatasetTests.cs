using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>
/// The sktime/UEA <c>.ts</c> reader and <c>data.name: ts</c>: headers, channel groups as modalities, standardization,
/// missing values, and messages that name the file and line (malformed cases) or the field (channel out of range);
/// BasicMotions from ../shared when it is there.
/// </summary>
public class TsDatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-ts").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Header = """
        # a comment
        @problemName Toy
        @timeStamps false
        @missing true
        @univariate false
        @dimensions 3
        @equalLength true
        @seriesLength 4
        @classLabel true up down
        @data
        """;

    /// <summary>A file of <paramref name="cases"/> cases: label up when channel 0 rises, 3 channels of 4 steps.</summary>
    private string Write(string name, int cases = 12, Func<int, string?>? line = null)
    {
        var rng = new Random(3);
        var lines = new List<string> { Header };
        for (int i = 0; i < cases; i++)
        {
            bool up = i % 2 == 0;
            string Ch(double slope, double offset) => string.Join(',', Enumerable.Range(0, 4).Select(t =>
                FormattableString.Invariant($"{offset + slope * t + 0.01 * rng.NextDouble():F4}")));
            lines.Add(line?.Invoke(i) ?? $"{Ch(up ? 1 : -1, 0)}:{Ch(0, 10)}:{Ch(0.5, -3)}:{(up ? "up" : "down")}");
        }
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private DataConfig Cfg(string train, string? test, Dictionary<string, List<int>>? channels, string missing = "error") => new()
    {
        Name = "ts",
        Train = train,
        Test = test,
        Modalities = channels?.Keys.ToList() ?? ["all"],
        Channels = channels,
        Missing = missing,
        TestFraction = 0.25,
    };

    [Fact]
    public void Channel_groups_become_modalities_of_frames_standardized_with_training_statistics()
    {
        string train = Write("train.ts"), test = Write("test.ts", cases: 6);
        using var b = TsDataset.Load(Cfg(train, test, new() { ["x"] = [0], ["yz"] = [1, 2] }), _dir, 1);
        Assert.Equal(["x", "yz"], b.Modalities.Select(m => m.Name));
        Assert.Equal(new long[] { 4, 1 }, b.Modalities[0].Shape);
        Assert.Equal(new long[] { 4, 2 }, b.Modalities[1].Shape);
        Assert.Equal(12, b.Train.Count);
        Assert.Equal(6, b.Test.Count);
        Assert.Equal(2, b.Train.NumClasses);
        Assert.Equal([0, 1, 0, 1], b.Train.Labels[..4]);          // classes in @classLabel order: up = 0, down = 1
        var yz = b.Train.Views["yz"];
        Assert.Equal(new long[] { 12, 4, 2 }, yz.shape);
        for (int c = 0; c < 2; c++)
        {
            var ch = yz.select(2, c);
            Assert.True(Math.Abs(ch.mean().item<float>()) < 1e-4, "standardized to training mean 0");
            Assert.True(Math.Abs(ch.std(unbiased: false).item<float>() - 1) < 1e-3, "and std 1");
        }
        // a plain list with one modality takes every channel; without a test file a fraction is held out
        using var all = TsDataset.Load(Cfg(train, null, null), _dir, 1);
        Assert.Equal(new long[] { 4, 3 }, all.Modalities[0].Shape);
        Assert.Equal(9, all.Train.Count);
        Assert.Equal(3, all.Test.Count);
    }

    [Fact]
    public void The_mapping_form_of_data_modalities_names_the_channel_groups()
    {
        string train = Write("train.ts");
        var cfg = ConfigLoader.FromText($$"""
            data: { name: ts, train: {{train}}, modalities: { acc: [0, 1], gyro: [2] } }
            agents: { count: 3, mix: "1:1:1" }
            """);
        Assert.Equal(["acc", "gyro"], cfg.Data.Modalities);
        Assert.Equal([0, 1], cfg.Data.Channels!["acc"]);
        // the resolved config (config.json) reads back the same
        var again = ConfigLoader.FromText(ConfigLoader.ToJson(cfg));
        Assert.Equal(cfg.Data.Modalities, again.Data.Modalities);
        Assert.Equal(cfg.Data.Channels["gyro"], again.Data.Channels!["gyro"]);
    }

    [Fact]
    public void A_channel_out_of_range_names_the_field()
    {
        string train = Write("train.ts");
        var e = Assert.Throws<ConfigException>(() => TsDataset.Load(Cfg(train, null, new() { ["acc"] = [0, 1], ["gyro"] = [2, 7] }), _dir, 1));
        Assert.StartsWith("data.modalities.gyro: channel 7 is out of range", e.Message);
        Assert.Contains("3 dimensions", e.Message);
        var neg = Assert.Throws<ConfigException>(() => ConfigLoader.FromText($$"""
            data: { name: ts, train: {{train}}, modalities: { acc: [-1] } }
            agents: { count: 1, mix: "1", types: [acc] }
            """));
        Assert.Contains("data.modalities.acc: channel -1 is out of range", neg.Message);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "1,2,3,4:1,2,3,4:up", "expected 3 dimension(s) and a label" },
        { "1,2,x,4:1,2,3,4:1,2,3,4:up", "dimension 0, value 3: 'x' is not a number" },
        { "1,2,3,4:1,2,3:1,2,3,4:up", "dimension 1 has 3 values but @seriesLength is 4" },
        { "1,2,3,4:1,2,3,4:1,2,3,4:sideways", "class label 'sideways' is not one of @classLabel" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_line_names_the_file_and_the_line(string bad, string message)
    {
        string train = Write("bad.ts", line: i => i == 4 ? bad : null);
        var e = Assert.Throws<ConfigException>(() => TsFile.Read(train));
        // 10 header lines (comment and headers, @data on line 10), case 5 on line 15
        Assert.StartsWith($"{train}:15: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Headers_are_checked_and_missing_values_follow_data_missing()
    {
        string noLabels = Path.Combine(_dir, "h.ts");
        File.WriteAllText(noLabels, "@problemName X\n@classLabel false\n@data\n1,2:3\n");
        Assert.StartsWith($"{noLabels}:2: @classLabel false", Assert.Throws<ConfigException>(() => TsFile.Read(noLabels)).Message);
        File.WriteAllText(noLabels, "@timeStamps true\n@classLabel true a\n@data\n");
        Assert.StartsWith($"{noLabels}:1: @timeStamps true", Assert.Throws<ConfigException>(() => TsFile.Read(noLabels)).Message);

        string train = Write("gaps.ts", line: i => i == 2 ? "1,?,3,4:10,10,10,10:-3,-2,-1,0:up" : null);
        var e = Assert.Throws<ConfigException>(() => TsDataset.Load(Cfg(train, null, new() { ["x"] = [0], ["rest"] = [1, 2] }), _dir, 1));
        Assert.Contains("case 3, dimension 0, step 2 is missing", e.Message);
        Assert.Contains("data.missing", e.Message);
        using var filled = TsDataset.Load(Cfg(train, train, new() { ["x"] = [0], ["rest"] = [1, 2] }, missing: "mean"), _dir, 1);
        Assert.Equal(0f, filled.Train.Views["x"][2, 1, 0].item<float>(), 5);   // the channel mean, 0 after standardization
    }

    [Fact]
    public void A_missing_BasicMotions_file_says_what_to_fetch_from_where()
    {
        var e = Assert.Throws<ConfigException>(() => TsDataset.Load(Cfg(Path.Combine(_dir, "BasicMotions_TRAIN.ts"), null, null), _dir, 1));
        Assert.StartsWith("data.train: file not found", e.Message);
        Assert.Contains("sktime/datasets/data/BasicMotions/", e.Message);
        Assert.Contains("BasicMotions_TEST.ts", e.Message);
    }

    [Fact]
    public void A_malformed_ts_file_stops_the_cli_with_exit_code_2()
    {
        string train = Write("bad.ts", line: i => i == 1 ? "1,2:up" : null);
        string cfg = Path.Combine(_dir, "exp.yaml");
        File.WriteAllText(cfg, $$"""
            name: ts-bad
            rounds: 1
            data: { name: ts, train: {{train}}, modalities: { a: [0], b: [1, 2] } }
            agents: { count: 3, mix: "1:1:1" }
            """);
        string outDir = Path.Combine(_dir, "out");
        Assert.Equal(2, Parse.Cli.Program.Main(["run", cfg, "--out", outDir, "--quiet"]));
        Assert.False(File.Exists(Path.Combine(outDir, "summary.json")));
    }

    /// <summary>Skips unless ../shared/datasets/basicmotions is beside the repository.</summary>
    private static string BasicMotionsDir()
    {
        string repo = DataPaths.FindRepoRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
        string dir = Path.GetFullPath(Path.Combine(repo, "..", "shared", "datasets", "basicmotions"));
        Skip.If(!File.Exists(Path.Combine(dir, "BasicMotions_TRAIN.ts")), $"BasicMotions not found at {dir}: {TsDataset.BasicMotionsSource}");
        return dir;
    }

    [SkippableFact]
    public void BasicMotions_loads_as_two_sensors_of_100_steps()
    {
        string dir = BasicMotionsDir();
        using var b = TsDataset.Load(Cfg(Path.Combine(dir, "BasicMotions_TRAIN.ts"), Path.Combine(dir, "BasicMotions_TEST.ts"),
            new() { ["acc"] = [0, 1, 2], ["gyro"] = [3, 4, 5] }), dir, 1);
        Assert.Equal(40, b.Train.Count);
        Assert.Equal(40, b.Test.Count);
        Assert.Equal(4, b.Train.NumClasses);
        Assert.All(b.Modalities, m => Assert.Equal(new long[] { 100, 3 }, m.Shape));
        Assert.All(Enumerable.Range(0, 4), c => Assert.Equal(10, b.Test.Labels.Count(l => l == c)));
    }

    [SkippableFact]
    public void Parse_with_gru_encoders_learns_BasicMotions_well_above_chance()
    {
        BasicMotionsDir();
        string repo = DataPaths.FindRepoRoot(AppContext.BaseDirectory)!;
        var cfg = ConfigLoader.Load(Path.Combine(repo, "configs", "basicmotions.yaml"),
            ["rounds=12", "eval.every=12", "sim.parallelism=1"]);
        using var sim = new Simulation.Simulator(cfg, Path.Combine(repo, "configs"));
        var r = sim.Run();
        // 4 classes (chance 0.25) from 5 training cases per agent
        Assert.True(r.AccuracyByType["acc+gyro"] > 0.4, $"acc+gyro accuracy {r.AccuracyByType["acc+gyro"]:F3}");
        Assert.True(r.FinalAccuracy.Average() > 0.4, $"mean accuracy {r.FinalAccuracy.Average():F3}");
    }
}
