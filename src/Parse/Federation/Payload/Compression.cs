using Parse.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// A lossy compressor of parameter differences. The pipeline runs such stages only on
/// <see cref="PayloadKind.Delta"/> payloads (the sender's change since its previous payload, plus the error-feedback
/// residual when enabled); full-value payloads pass unchanged. Any of them in <c>payload.processors</c> switches the
/// pipeline to difference payloads (see <see cref="PayloadPipeline"/>).
/// </summary>
public interface IDeltaCompressor : IPayloadProcessor;

/// <summary>A processor that needs to know its agent (seeded randomness, options, groups) before the first payload.</summary>
public interface IBindablePayloadProcessor : IPayloadProcessor
{
    /// <summary>Called once, by the agent core that owns the pipeline.</summary>
    void Bind(PayloadContext context);
}

/// <summary>What an agent's pipeline learns about its agent when the agent core binds it.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Config">The experiment (payload and privacy sections, seed).</param>
/// <param name="Groups">The groups the agent shares in some round, with their initial values.</param>
/// <param name="Tally">The agent's running tally (privacy accounting is written there); null: none.</param>
public sealed record PayloadContext(int AgentId, ExperimentConfig Config, IReadOnlyList<Model.ParameterGroup> Groups, Func<Node.AgentTally>? Tally = null)
{
    /// <summary>A random stream of this agent for one stage (deterministic in seed, agent and stage; the same in both runtimes).</summary>
    public Random Random(int stage) => new(unchecked(Config.Seed * 1_000_003 + AgentId * 7919 + stage * 104_729 + 17));
}

/// <summary>Shared helpers of the sparsifying and quantizing stages.</summary>
internal static class Sparsify
{
    /// <summary>Number of values kept out of <paramref name="n"/> for a fraction (at least one).</summary>
    public static long Keep(long n, double fraction) => Math.Clamp((long)Math.Ceiling(fraction * n), Math.Min(1, n), n);

    /// <summary>A copy of <paramref name="v"/> with only the values at <paramref name="indices"/> (flat) kept.</summary>
    public static Tensor KeepAt(Tensor v, Tensor indices)
    {
        var flat = v.flatten();
        return torch.zeros_like(flat).scatter_(0, indices, flat.gather(0, indices)).reshape(v.shape);
    }

    public static GroupPayload Sparse(GroupPayload p, Func<Tensor, Tensor> compress)
    {
        if (p.Kind != PayloadKind.Delta) return p;
        var values = new List<Tensor>(p.Values.Count);
        var codings = new List<TensorCoding>(p.Values.Count);
        for (int i = 0; i < p.Values.Count; i++)
        {
            values.Add(compress(p.Values[i]));
            codings.Add(new TensorCoding(TensorFormat.Sparse));
        }
        return p with { Values = values, Codings = codings, BytesPerElement = 4 };
    }
}

/// <summary>
/// Top-k sparsification (<c>top-k</c>): keeps, in every tensor, the <c>payload.topk_fraction</c> share of values with
/// the largest magnitude (at least one) and sends them as indices and values. Biased but contractive; combine with
/// <c>error-feedback</c> so that what it drops is sent later.
/// </summary>
public sealed class TopKCompressor : IDeltaCompressor, IBindablePayloadProcessor
{
    /// <summary>Fraction of values kept per tensor, in (0, 1].</summary>
    public double Fraction { get; private set; } = new PayloadConfig().TopkFraction;

    /// <inheritdoc />
    public void Bind(PayloadContext context) => Fraction = context.Config.Payload.TopkFraction;

    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p) => Sparsify.Sparse(p, v =>
    {
        long k = Sparsify.Keep(v.numel(), Fraction);
        using var abs = v.flatten().abs();
        var (_, idx) = abs.topk((int)k);
        return Sparsify.KeepAt(v, idx);
    });

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>
/// Random-k sparsification (<c>random-k</c>): keeps <c>payload.randomk_fraction</c> of each tensor's values at indices
/// drawn uniformly without replacement from the agent's random stream, unscaled (contractive, as CHOCO-SGD needs;
/// biased, so combine with <c>error-feedback</c>). The indices are sent with the values.
/// </summary>
public sealed class RandomKCompressor : IDeltaCompressor, IBindablePayloadProcessor
{
    private Random _rng = new(0);

    /// <summary>Fraction of values kept per tensor, in (0, 1].</summary>
    public double Fraction { get; private set; } = new PayloadConfig().RandomkFraction;

    /// <inheritdoc />
    public void Bind(PayloadContext context)
    {
        Fraction = context.Config.Payload.RandomkFraction;
        _rng = context.Random(2);
    }

    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p) => Sparsify.Sparse(p, v =>
    {
        long n = v.numel();
        long k = Sparsify.Keep(n, Fraction);
        var perm = new long[n];
        for (long i = 0; i < n; i++) perm[i] = i;
        for (long i = 0; i < k; i++)
        {
            long j = i + _rng.NextInt64(n - i);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        var chosen = perm[..(int)k];
        Array.Sort(chosen);
        using var idx = torch.tensor(chosen, ScalarType.Int64);
        return Sparsify.KeepAt(v, idx);
    });

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>
/// Stochastic quantization to <c>payload.bits</c> bits per value (<c>qsgd</c>), QSGD-style: per tensor the scale is
/// the largest magnitude s, the grid has 2^bits levels evenly spaced on [-s, s], and each value is rounded to one of
/// its two neighbouring levels at random with the probabilities that make the result unbiased (E[Q(v)] = v). Sent as
/// packed levels plus a float32 scale per tensor.
/// </summary>
/// <remarks>
/// With <see cref="ZeroLevel"/> (<c>qsgd-zero</c>) the grid has 2^bits - 1 levels, an odd number, one of them exactly 0
/// (spacing s / m, m = 2^(bits-1) - 1; bits 2..16, 2 bits = ternary {-s, 0, s}). A value much smaller than the spacing
/// then becomes 0 with probability close to 1, where the even grid's nearest levels are ±s/(2^bits - 1) and it becomes
/// either with probability about one half (a full bit of entropy per value). The error-feedback differences of a
/// trained model are mostly such small values next to their tensor's largest one, so after <c>zstd</c> the zero-level
/// grid sends fewer bytes at the same bits (docs/compression.md). Still unbiased; the error of one value is at most one
/// spacing, s / m instead of 2 s / (2^bits - 1).
/// </remarks>
public sealed class StochasticQuantizer : IDeltaCompressor, IBindablePayloadProcessor
{
    private Random _rng = new(0);

    /// <summary>Bits per value, 1..16 (2..16 with <see cref="ZeroLevel"/>).</summary>
    public int Bits { get; private set; } = new PayloadConfig().Bits;

    /// <summary>True for the grid with a zero level (<c>qsgd-zero</c>, <see cref="TensorFormat.QuantizedZero"/>).</summary>
    public bool ZeroLevel { get; }

    /// <summary>A quantizer with <paramref name="bits"/> bits and its own random stream (for tests and tools).</summary>
    public StochasticQuantizer(int bits = 4, int seed = 0, bool zeroLevel = false)
    {
        Bits = bits;
        ZeroLevel = zeroLevel;
        _rng = new Random(seed);
    }

    /// <inheritdoc />
    public void Bind(PayloadContext context)
    {
        Bits = context.Config.Payload.Bits;
        _rng = context.Random(3);
    }

    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p)
    {
        if (p.Kind != PayloadKind.Delta) return p;
        var values = new List<Tensor>(p.Values.Count);
        var codings = new List<TensorCoding>(p.Values.Count);
        foreach (var v in p.Values)
        {
            var (q, scale) = Quantize(v);
            values.Add(q);
            codings.Add(new TensorCoding(ZeroLevel ? TensorFormat.QuantizedZero : TensorFormat.Quantized, Bits, scale));
        }
        return p with { Values = values, Codings = codings, BytesPerElement = 4 };
    }

    /// <summary>Quantizes one tensor; returns the dequantized values (exactly what the receiver decodes) and the scale.</summary>
    public (Tensor Values, float Scale) Quantize(Tensor v)
    {
        if (ZeroLevel && Bits < 2) throw new InvalidOperationException($"qsgd-zero needs at least 2 bits (payload.bits is {Bits})");
        var data = v.detach().to_type(ScalarType.Float32).contiguous().cpu().data<float>().ToArray();
        float scale = 0;
        foreach (float f in data) scale = Math.Max(scale, Math.Abs(f));
        var coding = new TensorCoding(ZeroLevel ? TensorFormat.QuantizedZero : TensorFormat.Quantized, Bits, scale);
        int top = coding.TopLevel;
        // level l sits at position l on [0, top]: the even grid maps [-s, s] onto it as (v/s + 1) top / 2, the zero-level
        // grid (top = 2 m) as v/s m + m; both are affine, so rounding stochastically between neighbours is unbiased
        var outv = new float[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            if (scale == 0 || !float.IsFinite(scale)) { outv[i] = data[i]; continue; }
            double pos = Math.Clamp(((double)data[i] / scale + 1) * top / 2, 0, top);
            int lo = (int)Math.Floor(pos);
            int level = lo < top && _rng.NextDouble() < pos - lo ? lo + 1 : lo;
            outv[i] = coding.ValueOf(level);
        }
        return (torch.tensor(outv, v.shape, dtype: ScalarType.Float32), scale);
    }

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>LZ4 compression of the encoded values (<c>lz4</c>): lossless, for any payload.</summary>
public sealed class Lz4Compressor : IPayloadProcessor
{
    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p) => p with { Lossless = LosslessCodec.Lz4 };

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>
/// Error feedback (<c>error-feedback</c>): the agent keeps, per group, the residual of what the lossy stages (and
/// privacy clipping and noise) changed and adds it to its next difference payload, so nothing is lost for good:
/// sent + new residual = difference + old residual. With it, the receivers' copy of the sender's values is the
/// sender's values minus the residual. The pipeline runs it around the lossy stages, wherever it is listed.
/// </summary>
public sealed class ErrorFeedback : IPayloadProcessor
{
    /// <summary>True for the CHOCO-SGD marker (<c>choco</c>), which implies error feedback.</summary>
    public bool Choco { get; init; }

    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p) => p;

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>
/// Zstandard compression of the encoded values (<c>zstd</c>): lossless, for any payload. Unlike <c>lz4</c> it
/// entropy-codes the bytes, so after <c>qsgd</c> with error feedback, whose levels crowd around the middle of the grid,
/// it sends far fewer bytes than the packed levels (docs/compression.md).
/// </summary>
public sealed class ZstdCompressor : IPayloadProcessor
{
    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p) => p with { Lossless = LosslessCodec.Zstd };

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}
