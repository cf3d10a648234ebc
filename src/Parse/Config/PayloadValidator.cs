namespace Parse.Config;

/// <summary>Checks the <c>payload</c>, <c>privacy</c> and related keys; every message names the field at fault.</summary>
internal static class PayloadValidator
{
    private static readonly string[] DeltaNames = ["top-k", "random-k", "qsgd", "qsgd-zero", "error-feedback", "choco"];
    private static readonly string[] TimeVarying = ["random-gossip", "one-peer-exponential"];
    private static readonly string[] Roles = ["trunk", "unique", "redundant", "synergy", "embedding", "task"];

    public static void Validate(ExperimentConfig c, List<string> errors)
    {
        void Check(bool ok, string msg) { if (!ok) errors.Add(msg); }
        var p = c.Payload;
        var v = c.Privacy;
        Check(p.TopkFraction is > 0 and <= 1, $"payload.topk_fraction: must be in (0,1] (got {p.TopkFraction})");
        Check(p.RandomkFraction is > 0 and <= 1, $"payload.randomk_fraction: must be in (0,1] (got {p.RandomkFraction})");
        Check(p.Bits is >= 1 and <= 16, $"payload.bits: must be in 1..16 (got {p.Bits})");
        Check(p.ChocoGamma is > 0 and <= 1, $"payload.choco_gamma: must be in (0,1] (got {p.ChocoGamma})");
        Check(p.KeyframeEvery >= 0, $"payload.keyframe_every: must be >= 0 (got {p.KeyframeEvery})");
        bool choco = p.Processors.Contains("choco");
        Check(c.Mixing.Rule != "choco" || choco, "mixing.rule: choco needs the 'choco' payload processor (payload.processors: [choco, ...])");
        Check(!choco || c.Mixing.Rule == "choco", $"payload.processors: 'choco' needs mixing.rule: choco (got '{c.Mixing.Rule}')");
        Check(p.Processors.Distinct().Count() == p.Processors.Count, "payload.processors: a processor is listed twice");
        Check(!p.Processors.Contains("qsgd-zero") || p.Bits >= 2, $"payload.bits: qsgd-zero needs at least 2 bits (a zero level and one on each side; got {p.Bits})");
        Check(!(p.Processors.Contains("qsgd") && p.Processors.Contains("qsgd-zero")), "payload.processors: qsgd and qsgd-zero both quantize the differences: list one of them");
        Check(!(p.Processors.Contains("lz4") && p.Processors.Contains("zstd")), "payload.processors: lz4 and zstd both compress the encoded values: list one of them");
        string? delta = p.Processors.FirstOrDefault(n => DeltaNames.Contains(n)) ?? (v.Clip > 0 ? "privacy" : null);
        if (delta is not null && TimeVarying.Contains(c.Topology.Kind))
            errors.Add($"payload.processors: '{delta}' sends differences to each neighbour's copy of the sender, which needs a static topology (topology.kind '{c.Topology.Kind}' changes every round)");

        Check(v.Clip >= 0 && double.IsFinite(v.Clip), $"privacy.clip: must be a finite number >= 0 (got {v.Clip})");
        if (v.Clip > 0)
        {
            Check(v.NoiseMultiplier > 0 && double.IsFinite(v.NoiseMultiplier), $"privacy.noise_multiplier: must be a finite number > 0 (got {v.NoiseMultiplier})");
            Check(v.Delta is > 0 and < 1, $"privacy.delta: must be in (0,1) (got {v.Delta})");
            Check(v.TargetEpsilon >= 0 && double.IsFinite(v.TargetEpsilon), $"privacy.target_epsilon: must be a finite number >= 0 (got {v.TargetEpsilon})");
            Check(p.KeyframeEvery == 0, "payload.keyframe_every: must be 0 with privacy (a full payload would release unprotected values)");
            foreach (var r in v.Roles)
                Check(Roles.Contains(r), $"privacy.roles: unknown role '{r}' (expected one of: {string.Join(", ", Roles)})");
        }
        Check(c.Eval.TargetFraction is > 0 and <= 1, $"eval.target_fraction: must be in (0,1] (got {c.Eval.TargetFraction})");
    }
}
