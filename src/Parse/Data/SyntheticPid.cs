using Parse.Config;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>
/// synthetic-pid: the label is a tuple of independent bits of known information kind.
/// <list type="bullet">
/// <item>redundant bits: encoded in every modality;</item>
/// <item>unique bits: one set per modality, encoded only there;</item>
/// <item>synergistic bits: the XOR of one hidden bit per synergy modality, each hidden bit encoded only in its
/// own modality, so no proper subset of the synergy modalities carries any information about it.</item>
/// </list>
/// Each bit b is encoded as <c>DimsPerFactor</c> features (2b-1) + Noise * N(0,1); nuisance N(0,1) features
/// are appended and each modality is rotated by a fixed random orthogonal matrix. Because the bits are
/// independent and their features disjoint, the Bayes-optimal accuracy of an agent holding modality set T is
/// the product of per-bit accuracies, computed in closed form by <see cref="Ceiling"/>.
/// </summary>
public sealed class SyntheticPid
{
    private readonly DataConfig _cfg;
    private readonly List<string> _mods;
    private readonly List<string> _synMods;

    public SyntheticPid(DataConfig cfg)
    {
        _cfg = cfg;
        _mods = cfg.Modalities;
        _synMods = cfg.SynergyModalities ?? cfg.Modalities;
    }

    /// <summary>Total label bits.</summary>
    public int Bits => _cfg.RedundantBits + _mods.Count * _cfg.UniqueBits + _cfg.SynergyBits;
    /// <summary>Number of classes (2^Bits).</summary>
    public int NumClasses => 1 << Bits;

    /// <summary>Input width of modality <paramref name="m"/>.</summary>
    public int Width(string m) =>
        _cfg.DimsPerFactor * (_cfg.RedundantBits + _cfg.UniqueBits + (_synMods.Contains(m) ? _cfg.SynergyBits : 0)) + _cfg.NuisanceDims;

    /// <summary>Generates the training pool (size <paramref name="trainCount"/>) and a class-balanced test set.</summary>
    public DatasetBundle Generate(int trainCount, int seed)
    {
        var rotations = _mods.ToDictionary(m => m, m => _cfg.Rotate ? RandomRotation(Width(m), Seeds.Derive(seed, "rotation", m)) : null);
        var train = Sample(trainCount, new Random(Seeds.Derive(seed, "train")), rotations, balanced: false);
        var test = Sample(_cfg.TestSamples, new Random(Seeds.Derive(seed, "test")), rotations, balanced: true);
        foreach (var r in rotations.Values) r?.Dispose();
        return new DatasetBundle
        {
            Train = train,
            Test = test,
            Modalities = _mods.Select(m => new ModalitySpec(m, [Width(m)])).ToList(),
            Ceiling = Ceiling,
        };
    }

    private MultimodalData Sample(int n, Random rng, Dictionary<string, Tensor?> rotations, bool balanced)
    {
        int bits = Bits;
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = balanced ? i % NumClasses : rng.Next(NumClasses);
        if (balanced) rng.Shuffle(labels);
        var buffers = _mods.ToDictionary(m => m, m => new float[n * Width(m)]);
        int d = _cfg.DimsPerFactor, R = _cfg.RedundantBits, U = _cfg.UniqueBits, S = _cfg.SynergyBits;
        var hidden = new int[_synMods.Count];
        for (int i = 0; i < n; i++)
        {
            int y = labels[i];
            int Bit(int k) => (y >> k) & 1;
            // synergy hidden bits: uniform subject to XOR = label bit
            var synHidden = new int[S, _synMods.Count];
            for (int s = 0; s < S; s++)
            {
                int target = Bit(R + _mods.Count * U + s), acc = 0;
                for (int j = 0; j < _synMods.Count - 1; j++) { hidden[j] = rng.Next(2); acc ^= hidden[j]; }
                hidden[^1] = target ^ acc;
                for (int j = 0; j < _synMods.Count; j++) synHidden[s, j] = hidden[j];
            }
            for (int mi = 0; mi < _mods.Count; mi++)
            {
                string m = _mods[mi];
                float[] buf = buffers[m];
                int w = Width(m), o = i * w;
                void Put(int bit)
                {
                    for (int k = 0; k < d; k++) buf[o++] = (float)((2 * bit - 1) + _cfg.Noise * rng.NextGaussian());
                }
                for (int r = 0; r < R; r++) Put(Bit(r));
                for (int u = 0; u < U; u++) Put(Bit(R + mi * U + u));
                int sj = _synMods.IndexOf(m);
                if (sj >= 0) for (int s = 0; s < S; s++) Put(synHidden[s, sj]);
                for (int k = 0; k < _cfg.NuisanceDims; k++) buf[o++] = (float)rng.NextGaussian();
            }
        }
        var views = new Dictionary<string, Tensor>();
        foreach (var m in _mods)
        {
            var x = torch.tensor(buffers[m], [n, Width(m)]);
            if (rotations[m] is { } q) { var y = x.matmul(q); x.Dispose(); x = y; }
            views[m] = x;
        }
        return new MultimodalData(views, labels, NumClasses);
    }

    private static Tensor RandomRotation(int dim, int seed)
    {
        var rng = new Random(seed);
        var g = new float[dim * dim];
        for (int i = 0; i < g.Length; i++) g[i] = (float)rng.NextGaussian();
        using var a = torch.tensor(g, [dim, dim], dtype: ScalarType.Float64);
        var (q, r) = torch.linalg.qr(a);
        using (r) using (q)
        {
            // fix signs so the factorization is unique
            using var sign = r.diagonal().sign();
            return (q * sign.unsqueeze(0)).to_type(ScalarType.Float32);
        }
    }

    /// <summary>Bayes-optimal accuracy on the balanced test distribution for an agent holding <paramref name="held"/>.</summary>
    public double Ceiling(IReadOnlyCollection<string> held)
    {
        double sigma = _cfg.Noise;
        int d = _cfg.DimsPerFactor;
        double PBit(int copies) => sigma <= 0 ? 1.0 : NormalDistribution.Cdf(Math.Sqrt(copies * d) / sigma);
        int k = held.Count(_mods.Contains);
        double acc = 1;
        for (int r = 0; r < _cfg.RedundantBits; r++) acc *= k > 0 ? PBit(k) : 0.5;
        foreach (var m in _mods)
            for (int u = 0; u < _cfg.UniqueBits; u++) acc *= held.Contains(m) ? PBit(1) : 0.5;
        bool all = _synMods.All(held.Contains);
        double p = PBit(1);
        for (int s = 0; s < _cfg.SynergyBits; s++)
            acc *= all ? (1 + Math.Pow(2 * p - 1, _synMods.Count)) / 2 : 0.5;
        return acc;
    }
}
