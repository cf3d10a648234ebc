using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Payload;

/// <summary>
/// What crosses a link: one parameter group's values from one agent in one round, with the sender's
/// overlay degree (for Metropolis-Hastings weights). In the simulator the values are detached tensor
/// copies; a network transport serializes the same fields.
/// </summary>
public sealed record GroupPayload(string Key, int Sender, int Round, int SenderDegree, IReadOnlyList<Tensor> Values)
{
    /// <summary>Bytes per element on the wire when <see cref="Codings"/> is null (4: float32, 2: float16).</summary>
    public int BytesPerElement { get; init; } = 4;

    /// <summary>Wire format of each tensor (null: all dense, float16 when <see cref="BytesPerElement"/> is 2, else float32).</summary>
    public IReadOnlyList<TensorCoding>? Codings { get; init; }

    /// <summary>Whether the values are the group's values or a difference to the sender's previous payload.</summary>
    public PayloadKind Kind { get; init; } = PayloadKind.Full;

    /// <summary>For a <see cref="PayloadKind.Delta"/>: the round of the sender's previous payload of this key (0: none).</summary>
    public int BaseRound { get; init; }

    /// <summary>Lossless compression of the encoded values.</summary>
    public LosslessCodec Lossless { get; init; }

    /// <summary>Exact size on the wire: the length of <see cref="PayloadCodec.Encode"/>'s output (computed once per payload).</summary>
    public long WireBytes => PayloadCodec.EncodedSize(this);

    /// <summary>The wire format of tensor <paramref name="i"/>.</summary>
    public TensorCoding CodingOf(int i) => Codings?[i] ?? (BytesPerElement == 2 ? TensorCoding.Float16 : TensorCoding.Float32);
}

/// <summary>Why an incoming payload was refused.</summary>
public enum RejectReason
{
    /// <summary>The receiver holds no group with the payload's key.</summary>
    UnknownKey,
    /// <summary>Tensor count or shapes differ from the receiver's group.</summary>
    WrongShape,
    /// <summary>A value is NaN or infinite.</summary>
    NonFinite,
    /// <summary>The payload is older than the staleness bound allows.</summary>
    Stale,
    /// <summary>The encoded payload exceeds the configured size limit.</summary>
    Oversize,
    /// <summary>The bytes do not decode to a well-formed payload.</summary>
    Malformed,
    /// <summary>The sender is not the receiver's neighbour on the key's overlay.</summary>
    NotNeighbour,
    /// <summary>Accepted, but its values raised the receiver's loss beyond the tolerance (<c>mixing.screen: loss</c>) and were left out of mixing.</summary>
    Screened,
}

/// <summary>
/// One step in the chain that transforms outgoing and checks incoming payloads (compression, privacy,
/// validation). Return null from <see cref="Incoming"/> (with a reason) to refuse a payload; it is then
/// counted and never mixed.
/// </summary>
public interface IPayloadProcessor
{
    /// <summary>Transforms a payload before it is sent (return it unchanged if there is nothing to do).</summary>
    GroupPayload Outgoing(GroupPayload payload);
    /// <summary>Checks or transforms a received payload; null (with <paramref name="reason"/>) refuses it.</summary>
    GroupPayload? Incoming(GroupPayload payload, IReadOnlyList<long[]> expectedShapes, string expectedKey, out RejectReason reason);
}

/// <summary>Refuses payloads whose key or tensor shapes differ from the receiver's group.</summary>
public sealed class ShapeValidator : IPayloadProcessor
{
    public GroupPayload Outgoing(GroupPayload p) => p;

    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        if (p.Key != key) { reason = RejectReason.UnknownKey; return null; }
        if (p.Values.Count != shapes.Count || p.Values.Where((v, i) => !v.shape.SequenceEqual(shapes[i])).Any())
        {
            reason = RejectReason.WrongShape;
            return null;
        }
        return p;
    }
}

/// <summary>Refuses payloads containing NaN or infinite values.</summary>
public sealed class FiniteValidator : IPayloadProcessor
{
    public GroupPayload Outgoing(GroupPayload p) => p;

    // The in-memory transport hands one payload object to all of a sender's neighbours: its verdict is computed once.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<Tensor>, object> Verdicts = new();
    private static readonly object Finite = new(), NotFinite = new();

    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = RejectReason.NonFinite;
        var verdict = Verdicts.GetValue(p.Values, values => AllFinite(values) ? Finite : NotFinite);
        return ReferenceEquals(verdict, Finite) ? p : null;
    }

    /// <summary>
    /// One reduction per payload: the float64 sum of all values is finite exactly when every value is (a NaN or an
    /// infinity propagates; float32 values cannot overflow a float64 sum).
    /// </summary>
    private static bool AllFinite(IReadOnlyList<Tensor> values)
    {
        if (values.Count == 0) return true;
        using var scope = torch.NewDisposeScope();
        var total = values.Count == 1 ? values[0].sum(ScalarType.Float64)
            : torch.stack(values.Select(v => v.sum(ScalarType.Float64)).ToArray(), 0).sum();
        return double.IsFinite(total.item<double>());
    }
}

/// <summary>
/// Rounds outgoing values to float16 precision: dense tensors are sent as float16 (2 bytes per value), sparse ones
/// with float16 values; quantized tensors are left as they are.
/// </summary>
public sealed class Float16Compressor : IPayloadProcessor
{
    /// <inheritdoc />
    public GroupPayload Outgoing(GroupPayload p)
    {
        var values = new List<Tensor>(p.Values.Count);
        var codings = new List<TensorCoding>(p.Values.Count);
        for (int i = 0; i < p.Values.Count; i++)
        {
            var c = p.CodingOf(i);
            if (c.Format is TensorFormat.Quantized or TensorFormat.QuantizedZero or TensorFormat.Float16 or TensorFormat.SparseHalf)
            {
                values.Add(p.Values[i]);
                codings.Add(c);
                continue;
            }
            values.Add(p.Values[i].to_type(ScalarType.Float16).to_type(ScalarType.Float32));
            codings.Add(c.Format == TensorFormat.Sparse ? new TensorCoding(TensorFormat.SparseHalf) : TensorCoding.Float16);
        }
        return p with { Values = values, Codings = codings, BytesPerElement = 2 };
    }

    /// <inheritdoc />
    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}
