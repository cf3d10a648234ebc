using System.Text.Json.Nodes;
using Parse.Config;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

public class SliceCkaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-cka").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static float[] Gaussian(Random rng, int n, int d) =>
        Enumerable.Range(0, n * d).Select(_ => (float)Util.RandomExtensions.NextGaussian(rng)).ToArray();

    /// <summary>x [n, d] times a random orthogonal d x d matrix (Gram-Schmidt), times <paramref name="scale"/>, plus <paramref name="shift"/>.</summary>
    private static float[] RotateScaleShift(float[] x, int n, int d, Random rng, double scale, double shift)
    {
        var q = new double[d, d];
        for (int j = 0; j < d; j++)
        {
            var v = Enumerable.Range(0, d).Select(_ => Util.RandomExtensions.NextGaussian(rng)).ToArray();
            for (int k = 0; k < j; k++)
            {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += v[i] * q[i, k];
                for (int i = 0; i < d; i++) v[i] -= dot * q[i, k];
            }
            double norm = Math.Sqrt(v.Sum(a => a * a));
            for (int i = 0; i < d; i++) q[i, j] = v[i] / norm;
        }
        var y = new float[n * d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int i = 0; i < d; i++) s += x[r * d + i] * q[i, j];
                y[r * d + j] = (float)(scale * s + shift);
            }
        return y;
    }

    [Fact]
    public void Identical_representations_have_cka_one()
    {
        var x = Gaussian(new Random(1), 300, 8);
        Assert.Equal(1.0, LinearCka.Of(x, 8, x, 8, 300), 6);
    }

    [Fact]
    public void A_rotated_scaled_and_shifted_copy_has_cka_one()
    {
        var rng = new Random(2);
        var x = Gaussian(rng, 400, 6);
        var y = RotateScaleShift(x, 400, 6, rng, scale: 3.5, shift: -2.0);
        Assert.Equal(1.0, LinearCka.Of(x, 6, y, 6, 400), 4);
    }

    [Fact]
    public void Independent_representations_have_cka_near_zero_and_partly_shared_ones_in_between()
    {
        var rng = new Random(3);
        int n = 2000, d = 4;
        var x = Gaussian(rng, n, d);
        var z = Gaussian(rng, n, d);
        double independent = LinearCka.Of(x, d, z, d, n);
        Assert.InRange(independent, 0.0, 0.02);
        // y = x in two of four columns, fresh noise in the others: between the two
        var y = (float[])z.Clone();
        for (int r = 0; r < n; r++) { y[r * d] = x[r * d]; y[r * d + 1] = x[r * d + 1]; }
        Assert.InRange(LinearCka.Of(x, d, y, d, n), 0.3, 0.7);
    }

    [Fact]
    public void Representations_of_different_widths_compare_and_constant_ones_give_nan()
    {
        var rng = new Random(4);
        var x = Gaussian(rng, 200, 3);
        var wide = new float[200 * 5];   // x's columns, then two zero columns
        for (int r = 0; r < 200; r++) for (int j = 0; j < 3; j++) wide[r * 5 + j] = x[r * 3 + j];
        Assert.Equal(1.0, LinearCka.Of(x, 3, wide, 5, 200), 6);
        Assert.True(double.IsNaN(LinearCka.Of(x, 3, new float[200 * 2], 2, 200)));
        Assert.Throws<ArgumentException>(() => LinearCka.Of(x, 3, x, 3, 100));
    }

    [Fact]
    public void A_run_with_cka_writes_every_pair_set_per_evaluation_and_trains_exactly_as_without()
    {
        string[] common = ["rounds=2", "eval.every=1", "eval.embeddings=false", "sim.parallelism=1"];
        var with = TestConfigs.Load([.. common, "eval.cka=true"]);
        var without = TestConfigs.Load(common);
        string a = Path.Combine(_dir, "with"), b = Path.Combine(_dir, "without");
        var sa = ExperimentRunner.Run(with, a, _dir);
        var sb = ExperimentRunner.Run(without, b, _dir);
        Assert.Equal(sb["accuracy"]!["per_agent"]!.ToJsonString(), sa["accuracy"]!["per_agent"]!.ToJsonString());

        var rows = File.ReadAllLines(Path.Combine(a, "cka.csv"));
        Assert.Equal("round,slice,pairs,mean,min,max,count", rows[0]);
        // 2 rounds x 2 slice kinds x 3 pair sets; per kind 16 (agent, modality) slices of 4 a, 4 b and 4 a+b agents:
        // 4 within an a+b agent, 8 a x 8 b - 4 = 60 across agents, 2 x C(8, 2) = 56 within a modality
        Assert.Equal(12, rows.Length - 1);
        var counts = rows.Skip(1).Where(r => r.StartsWith("2,redundant,", StringComparison.Ordinal)).ToDictionary(r => r.Split(',')[2], r => int.Parse(r.Split(',')[6]));
        Assert.Equal(new Dictionary<string, int> { ["cross-modal/same-agent"] = 4, ["cross-modal/across-agents"] = 60, ["same-modality/across-agents"] = 56 }, counts);
        Assert.All(rows.Skip(1), r => Assert.InRange(double.Parse(r.Split(',')[3], System.Globalization.CultureInfo.InvariantCulture), 0.0, 1.0));
        Assert.Contains("## Slice CKA", File.ReadAllText(Path.Combine(a, "report.md")));
        Assert.True(File.ReadAllBytes(Path.Combine(a, "cka.png")).Length > 1000);
        Assert.False(File.Exists(Path.Combine(b, "cka.csv")));
        // off, the key is not written: runs from before it keep their config hash (bench cells are not rerun)
        Assert.Null(JsonNode.Parse(File.ReadAllText(Path.Combine(b, "config.json")))!["eval"]!["cka"]);
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(a, "config.json")))!["eval"]!["cka"]!.GetValue<bool>());
    }

    [Fact]
    public void A_bench_of_cells_with_cka_tabulates_it_per_row_slice_and_pair_set()
    {
        File.WriteAllText(Path.Combine(_dir, "base.yaml"), TestConfigs.Small);
        File.WriteAllText(Path.Combine(_dir, "grid.yaml"), """
            name: t
            base: base.yaml
            set: [rounds=1, eval.every=1, eval.embeddings=false, eval.cka=true]
            axes:
              method:
                parse: { strategy: parse }
                dsgd-task: { strategy: dsgd-task, model.fission: false }
              seed: [1]
            """);
        string outDir = Path.Combine(_dir, "bench");
        Bench.BenchRunner.Run(Bench.GridSpec.Load(Path.Combine(_dir, "grid.yaml")), outDir);
        string md = File.ReadAllText(Path.Combine(outDir, "results.md"));
        Assert.Contains("## Slice CKA", md);
        Assert.Contains("| parse | redundant | cross-modal/across-agents | 1 |", md);
        Assert.DoesNotContain("| dsgd-task | redundant", md);   // a monolithic model has no slices
    }
}
