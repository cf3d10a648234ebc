using Parse.Federation.Payload;
using Parse.Model;

namespace Parse.Node;

/// <summary>
/// One parameter group's payload of a round and the neighbours it goes to. The transport owns the payload's tensors:
/// it disposes this once the payload is sent (or, in memory, once every receiver has released it).
/// </summary>
/// <param name="Payload">What crosses the links.</param>
/// <param name="Role">Role of the group (for the bytes-by-role tally).</param>
/// <param name="To">Recipients, ascending.</param>
public sealed record OutgoingPayload(GroupPayload Payload, GroupRole Role, IReadOnlyList<int> To) : IDisposable
{
    /// <summary>Disposes the payload's tensors.</summary>
    public void Dispose()
    {
        foreach (var v in Payload.Values) v.Dispose();
    }
}
