using Parse.Config;
using Parse.Reporting;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Tests;

public class SliceProbeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-probes").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_probe_reads_a_linearly_encoded_bit_and_is_at_chance_for_an_absent_one()
    {
        var rng = new Random(4);
        int n = 800;
        var x = new float[n * 3];
        var y = new float[n * 2];
        for (int i = 0; i < n; i++)
        {
            int seen = rng.Next(2), absent = rng.Next(2);
            x[i * 3] = (float)(2 * seen - 1 + 0.3 * Util.RandomExtensions.NextGaussian(rng));
            x[i * 3 + 1] = (float)Util.RandomExtensions.NextGaussian(rng);
            x[i * 3 + 2] = (float)Util.RandomExtensions.NextGaussian(rng);
            y[i * 2] = seen;
            y[i * 2 + 1] = absent;
        }
        var acc = SliceProbes.Fit(torch.tensor(x, [n, 3]), torch.tensor(y, [n, 2]), n / 2);
        Assert.True(acc[0] > 0.97, $"encoded bit: {acc[0]}");
        Assert.InRange(acc[1], 0.40, 0.60);
    }

    [Fact]
    public void Factors_follow_the_label_bit_layout_of_synthetic_pid()
    {
        var f = SliceProbes.Factors(new DataConfig { Modalities = ["a", "b"] });
        Assert.Equal(new[] { ("redundant", 0), ("unique/a", 1), ("unique/b", 2), ("synergy-xor", 3) }, f);
    }

    [Fact]
    public void A_run_with_probes_writes_the_csv_the_heatmap_and_the_report_section()
    {
        var cfg = TestConfigs.Load("rounds=2", "eval.probes=true", "eval.embeddings=false");
        string outDir = Path.Combine(_dir, "run");
        ExperimentRunner.Run(cfg, outDir, _dir);
        var rows = File.ReadAllLines(Path.Combine(outDir, "probes.csv"));
        Assert.Equal("agent,type,slice,factor,accuracy", rows[0]);
        // 4 a (2 slices) + 4 b (2 slices) + 4 a+b (6 slices), 4 factors each
        Assert.Equal((4 * 2 + 4 * 2 + 4 * 6) * 4, rows.Length - 1);
        Assert.Contains("## Slice probes", File.ReadAllText(Path.Combine(outDir, "report.md")));
        var png = File.ReadAllBytes(Path.Combine(outDir, "probes.png"));
        Assert.True(png.Length > 1000 && png[1] == 'P');
    }
}
