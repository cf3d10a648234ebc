using Parse.Config;
using Parse.Data;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Sample.Extending;

/// <summary>
/// "two-sensors": a tiny generated dataset with two modalities, <c>grid</c> (a 6x6 one-channel image) and
/// <c>wave</c> (a 16-step signal). The label has three bits (8 classes): a redundant bit seen by both sensors,
/// one bit only the grid shows and one only the wave shows. An agent with one sensor can reach 0.5 at best
/// (it must guess the other sensor's bit), an agent with both 1.0.
/// </summary>
/// <remarks>
/// Reads <c>data.samples_per_agent</c>, <c>data.test_samples</c> and <c>data.noise</c> from the config, so it needs
/// no settings of its own; every random draw derives from the experiment seed.
/// </remarks>
public static class TwoSensorDataset
{
    /// <summary>Name under which the sample registers the dataset.</summary>
    public const string Name = "two-sensors";

    /// <summary>Modalities the dataset provides.</summary>
    public static readonly IReadOnlyList<string> Modalities = ["grid", "wave"];

    private const int Side = 6, Steps = 16;

    /// <summary>Generates the training pool (agents x samples_per_agent) and the test set.</summary>
    public static DatasetBundle Generate(DatasetRequest request)
    {
        var cfg = request.Config;
        var unknown = cfg.Modalities.Except(Modalities).ToList();
        if (unknown.Count > 0)
            throw new ConfigException($"data.modalities: {Name} provides {string.Join(", ", Modalities)}; unknown: {string.Join(", ", unknown)}");
        int trainCount = request.AgentCount * cfg.SamplesPerAgent;
        return new DatasetBundle
        {
            Train = Sample(trainCount, cfg, new Random(Seeds.Derive(request.Seed, Name, "train"))),
            Test = Sample(cfg.TestSamples, cfg, new Random(Seeds.Derive(request.Seed, Name, "test"))),
            Modalities = cfg.Modalities.Select(m => new ModalitySpec(m, m == "grid" ? [1, Side, Side] : [Steps])).ToList(),
            Ceiling = mods => mods.Count >= 2 ? 1.0 : 0.5,
        };
    }

    private static MultimodalData Sample(int n, DataConfig cfg, Random rng)
    {
        var grid = new float[n * Side * Side];
        var wave = new float[n * Steps];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int y = rng.Next(8);
            bool shared = (y & 1) != 0, gridBit = (y & 2) != 0, waveBit = (y & 4) != 0;
            labels[i] = y;
            for (int r = 0; r < Side; r++)
                for (int c = 0; c < Side; c++)
                {
                    // the shared bit lights the left or right half, the grid's own bit the top or bottom half
                    double v = ((c < Side / 2) == shared ? 1 : 0) + ((r < Side / 2) == gridBit ? 1 : 0);
                    grid[(i * Side + r) * Side + c] = (float)(v + cfg.Noise * Gaussian(rng));
                }
            for (int t = 0; t < Steps; t++)
            {
                // the shared bit sets the offset, the wave's own bit the frequency
                double v = (shared ? 0.8 : -0.8) + Math.Sin(2 * Math.PI * (waveBit ? 3 : 1) * t / Steps);
                wave[i * Steps + t] = (float)(v + cfg.Noise * Gaussian(rng));
            }
        }
        var views = new Dictionary<string, Tensor>();
        if (cfg.Modalities.Contains("grid")) views["grid"] = torch.tensor(grid, [n, 1, Side, Side]);
        if (cfg.Modalities.Contains("wave")) views["wave"] = torch.tensor(wave, [n, Steps]);
        return new MultimodalData(views, labels, numClasses: 8);
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
