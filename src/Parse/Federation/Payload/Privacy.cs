using Parse.Config;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// Renyi differential privacy accountant for the Gaussian mechanism (Mironov 2017): a release with L2 sensitivity 1
/// and noise N(0, sigma^2) costs RDP(alpha) = alpha / (2 sigma^2) at every order alpha; costs add up over releases,
/// and the total converts to (epsilon, delta)-DP by epsilon = min over orders of RDP(alpha) + log(1/delta) / (alpha - 1).
/// </summary>
public sealed class RdpAccountant
{
    /// <summary>The orders alpha the bound is minimised over: 1.05 to 11 in steps of 0.05, 12 to 64, then 80 to 1024.</summary>
    public static IReadOnlyList<double> Orders { get; } =
        Enumerable.Range(1, 200).Select(k => 1 + k / 20.0)
            .Concat(Enumerable.Range(12, 53).Select(a => (double)a))
            .Concat([80, 96, 128, 192, 256, 384, 512, 768, 1024]).ToArray();

    private readonly double[] _rdp = new double[Orders.Count];

    /// <summary>Releases accounted for so far.</summary>
    public int Releases { get; private set; }

    /// <summary>Accounts for <paramref name="count"/> Gaussian releases with noise multiplier <paramref name="sigma"/> (noise std / sensitivity).</summary>
    public void AddGaussian(double sigma, int count = 1)
    {
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), "the noise multiplier must be > 0");
        for (int i = 0; i < _rdp.Length; i++) _rdp[i] += count * Orders[i] / (2 * sigma * sigma);
        Releases += count;
    }

    /// <summary>
    /// The smallest noise multiplier (to 1e-6 relative) at which <paramref name="releases"/> Gaussian releases stay
    /// within <paramref name="epsilon"/> at <paramref name="delta"/> (epsilon falls as the multiplier grows).
    /// </summary>
    public static double NoiseFor(double epsilon, double delta, int releases)
    {
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be > 0");
        if (releases <= 0) return 1.0;
        double Eps(double sigma)
        {
            var a = new RdpAccountant();
            a.AddGaussian(sigma, releases);
            return a.Epsilon(delta);
        }
        double lo = 1e-3, hi = 1.0;
        while (Eps(hi) > epsilon) { lo = hi; hi *= 2; if (hi > 1e9) throw new ArgumentOutOfRangeException(nameof(epsilon), $"epsilon {epsilon} is out of reach"); }
        while (hi - lo > 1e-6 * hi)
        {
            double mid = (lo + hi) / 2;
            if (Eps(mid) > epsilon) lo = mid; else hi = mid;
        }
        return hi;
    }

    /// <summary>The RDP at every order in <see cref="Orders"/>.</summary>
    public IReadOnlyList<double> Rdp => _rdp;

    /// <summary>Epsilon of the releases so far at <paramref name="delta"/> (0 before any release).</summary>
    public double Epsilon(double delta)
    {
        if (Releases == 0) return 0;
        double best = double.PositiveInfinity;
        for (int i = 0; i < _rdp.Length; i++) best = Math.Min(best, _rdp[i] + Math.Log(1 / delta) / (Orders[i] - 1));
        return best;
    }
}

/// <summary>
/// Differential privacy of the shared groups (<c>privacy</c> section, on when <c>privacy.clip</c> &gt; 0). For every
/// protected group it publishes, the agent clips its update, the difference between its current values and its
/// previous payload (plus the error-feedback residual when enabled), jointly over the group's tensors, to L2 norm
/// <c>clip</c> and adds Gaussian noise N(0, (noise_multiplier x clip)^2) to every value, before any compression (which
/// is then post-processing). Each such release is a Gaussian mechanism of sensitivity <c>clip</c> with respect to the
/// agent's whole contribution (add/remove adjacency, as in DP-FedAvg); the <see cref="RdpAccountant"/> composes them
/// over groups and rounds, and the agent's epsilon at <c>privacy.delta</c> is kept in its tally.
/// </summary>
public sealed class PrivacyStage : IBindablePayloadProcessor
{
    private PrivacyConfig _cfg;
    private Random _rng = new(0);
    private HashSet<string>? _protected;
    private Func<Node.AgentTally>? _tally;

    /// <summary>A stage with the given options (bind it to an agent for its random stream, groups and tally).</summary>
    public PrivacyStage(PrivacyConfig cfg)
    {
        _cfg = cfg;
        NoiseMultiplier = cfg.NoiseMultiplier;
    }

    /// <summary>The privacy spent so far.</summary>
    public RdpAccountant Accountant { get; } = new();

    /// <inheritdoc />
    public void Bind(PayloadContext context)
    {
        _cfg = context.Config.Privacy;
        _rng = context.Random(5);
        _tally = context.Tally;
        _protected = context.Groups.Where(g => Protects(_cfg, g)).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        NoiseMultiplier = _cfg.TargetEpsilon > 0
            ? RdpAccountant.NoiseFor(_cfg.TargetEpsilon, _cfg.Delta, context.Config.Rounds * _protected.Count)
            : _cfg.NoiseMultiplier;
    }

    /// <summary>
    /// The noise multiplier in use: <c>privacy.noise_multiplier</c>, or with <c>privacy.target_epsilon</c> the one
    /// derived for this agent's planned releases (rounds x protected groups it shares).
    /// </summary>
    public double NoiseMultiplier { get; private set; }

    /// <summary>Whether <paramref name="cfg"/> protects group <paramref name="g"/> (by <c>privacy.roles</c> and <c>privacy.groups</c>).</summary>
    public static bool Protects(PrivacyConfig cfg, Model.ParameterGroup g) =>
        (cfg.Roles.Count == 0 || cfg.Roles.Contains(g.Role.ToString().ToLowerInvariant()))
        && (cfg.Groups.Count == 0 || cfg.Groups.Any(prefix => g.Name.StartsWith(prefix, StringComparison.Ordinal)));

    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p)
    {
        if (p.Kind != PayloadKind.Delta || (_protected is not null && !_protected.Contains(p.Key))) return p;
        double clip = _cfg.Clip, std = NoiseMultiplier * clip;
        double sq = 0;
        foreach (var v in p.Values)
            using (var n2 = v.Squared().sum()) sq += n2.item<float>();
        double norm = Math.Sqrt(sq);
        float factor = norm > clip ? (float)(clip / norm) : 1f;
        var values = new List<Tensor>(p.Values.Count);
        foreach (var v in p.Values)
        {
            var data = v.detach().to_type(ScalarType.Float32).contiguous().cpu().data<float>().ToArray();
            for (int i = 0; i < data.Length; i++) data[i] = (float)(data[i] * factor + std * _rng.NextGaussian());
            values.Add(torch.tensor(data, v.shape, dtype: ScalarType.Float32));
        }
        Accountant.AddGaussian(NoiseMultiplier);
        if (_tally?.Invoke() is { } t)
        {
            t.PrivacyReleases = Accountant.Releases;
            t.PrivacyEpsilon = Accountant.Epsilon(_cfg.Delta);
        }
        return p with { Values = values };
    }

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}
