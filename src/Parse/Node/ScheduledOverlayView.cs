namespace Parse.Node;

/// <summary>
/// An overlay view restricted by the dynamics schedule: a neighbour whose group of a key is inactive in a round (it has
/// not joined, has left, or the sensor the group depends on is down) is not its neighbour on that key's overlay in that
/// round. Every agent computes the same schedule, so the two ends of a link agree without messages. The overlay is not
/// repaired around inactive agents (it may be split while they are away).
/// </summary>
public sealed class ScheduledOverlayView(IOverlayView inner, DynamicsSchedule schedule) : IOverlayView
{
    /// <inheritdoc />
    public IReadOnlyCollection<int> Neighbours(string key, int round)
    {
        var all = inner.Neighbours(key, round);
        var result = new List<int>(all.Count);
        foreach (int j in all) if (schedule.KeyActive(j, key, round)) result.Add(j);
        return result;
    }
}
