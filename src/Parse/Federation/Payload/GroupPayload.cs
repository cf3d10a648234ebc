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
    /// <summary>Bytes per element on the wire (4 for float32; a compression processor may lower it).</summary>
    public int BytesPerElement { get; init; } = 4;

    /// <summary>Size on the wire: values plus a header (key, sender, round, degree, shapes).</summary>
    public long WireBytes => Values.Sum(v => v.numel()) * BytesPerElement + HeaderBytes;

    private long HeaderBytes => 16 + System.Text.Encoding.UTF8.GetByteCount(Key) + Values.Sum(v => 4 + 8 * v.dim());
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

/// <summary>Rounds outgoing values to float16 precision and counts 2 bytes per element.</summary>
public sealed class Float16Compressor : IPayloadProcessor
{
    public GroupPayload Outgoing(GroupPayload p) =>
        p with { Values = p.Values.Select(v => v.to_type(ScalarType.Float16).to_type(ScalarType.Float32)).ToList(), BytesPerElement = 2 };

    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        return p;
    }
}

/// <summary>An ordered chain of processors: outgoing runs first to last, incoming last to first.</summary>
public sealed class PayloadPipeline(IReadOnlyList<IPayloadProcessor> processors)
{
    /// <summary>The registry behind <see cref="Components.PayloadProcessors"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<IPayloadProcessor>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<IPayloadProcessor>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<IPayloadProcessor>>("payload processor");
        r.Register("float16", () => new Float16Compressor(), "rounds outgoing values to float16 precision, 2 bytes per element");
        return r;
    }

    /// <summary>Accepted names in <c>payload.processors</c> (built-in and registered).</summary>
    public static IReadOnlyList<string> Known => Registry.Names;

    /// <summary>Validation always runs; named processors (e.g. float16) are added in order.</summary>
    public static PayloadPipeline Create(IEnumerable<string> names) =>
        new(names.Select(n => Registry.Resolve("payload.processors", n)())
            .Prepend(new FiniteValidator()).Prepend(new ShapeValidator()).ToList());

    public GroupPayload Outgoing(GroupPayload p)
    {
        foreach (var proc in processors) p = proc.Outgoing(p);
        return p;
    }

    public GroupPayload? Incoming(GroupPayload p, IReadOnlyList<long[]> shapes, string key, out RejectReason reason)
    {
        reason = default;
        GroupPayload? cur = p;
        for (int i = processors.Count - 1; i >= 0 && cur is not null; i--)
            cur = processors[i].Incoming(cur, shapes, key, out reason);
        return cur;
    }
}
