namespace Parse.Node;

/// <summary>
/// One agent's view of its overlays: who its neighbours are on the overlay of a sharing key in a round. The simulator
/// answers from the overlays it builds for the whole population; the cluster answers from what the agent discovered by
/// messages (the two agree, see <c>OverlayDiscovery</c>).
/// </summary>
public interface IOverlayView
{
    /// <summary>Overlay neighbours of the agent for <paramref name="key"/> in <paramref name="round"/> (1-based); empty if none.</summary>
    IReadOnlyCollection<int> Neighbours(string key, int round);
}
