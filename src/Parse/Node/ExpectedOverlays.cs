using Parse.Federation.Overlays;
using Parse.Data;
using Parse.Model;
using TorchSharp;

namespace Parse.Node;

/// <summary>
/// The overlays an experiment's config implies, computed without any message: every agent's shared keys follow from
/// its type (its modalities), the model config and the strategy, and each key's overlay from the base graph and the
/// holders (<see cref="OverlayBuilder"/>, the simulator's own construction). Every node holds the same config, so a
/// node can check what overlay discovery tells it against this: an agent announcing keys its type does not hold, or a
/// repair report that would add a link the config does not imply, is a lie (refused and counted).
/// </summary>
public sealed class ExpectedOverlays
{
    private readonly ExperimentSetup _setup;
    private readonly Dictionary<string, IReadOnlySet<string>> _keysByType = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Overlay> _overlays = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private Dictionary<string, SortedSet<int>>? _holders;

    /// <summary>Expected overlays of <paramref name="setup"/>'s experiment (computed lazily, thread-safe).</summary>
    public ExpectedOverlays(ExperimentSetup setup) => _setup = setup;

    /// <summary>The keys agent <paramref name="agent"/> shares in some round, by its type; null for an unknown agent.</summary>
    public IReadOnlySet<string>? KeysOf(int agent)
    {
        if (agent < 0 || agent >= _setup.Population.Count) return null;
        var kind = _setup.AgentKinds[agent];
        string type = kind.Name;
        lock (_lock)
        {
            if (_keysByType.TryGetValue(type, out var keys)) return keys;
            var cfg = _setup.Config;
            using var scope = torch.NewDisposeScope();
            using var model = Simulation.Learner.BuildModel(kind, _setup.Data.Modalities, _setup.Data.Train.NumClasses, cfg, 1);
            keys = model.GroupsOf(0).Where(g => Enumerable.Range(0, cfg.Rounds).Any(r => _setup.Strategy.Shares(g, r)))
                .Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
            _keysByType[type] = keys;
            return keys;
        }
    }

    /// <summary>Computes every agent's keys and every overlay now (so later look-ups only read).</summary>
    public ExpectedOverlays Warm()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < _setup.Population.Count; i++) keys.UnionWith(KeysOf(i)!);
        foreach (var k in keys) Overlay(k);
        return this;
    }

    /// <summary>Agent <paramref name="agent"/>'s neighbours on the config's overlay of <paramref name="key"/> (empty when it does not hold it).</summary>
    public IReadOnlyCollection<int> NeighboursOf(string key, int agent)
    {
        var o = Overlay(key);
        return o is not null && o.Members.Contains(agent) ? o.Graph.Neighbours(agent) : [];
    }

    /// <summary>True if the config's overlay of <paramref name="key"/> links agents <paramref name="a"/> and <paramref name="b"/>.</summary>
    public bool Links(string key, int a, int b)
    {
        var o = Overlay(key);
        return o is not null && o.Members.Contains(a) && o.Members.Contains(b) && o.Graph.HasEdge(a, b);
    }

    /// <summary>The config's overlay of <paramref name="key"/> (round 0 of the base graph), or null when nobody holds it.</summary>
    public Overlay? Overlay(string key)
    {
        lock (_lock)
        {
            if (_overlays.TryGetValue(key, out var o)) return o;
            if (_holders is null)
            {
                _holders = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
                for (int i = 0; i < _setup.Population.Count; i++)
                    foreach (var k in KeysOf(i)!)   // the lock is re-entrant
                    {
                        if (!_holders.TryGetValue(k, out var set)) _holders[k] = set = new SortedSet<int>();
                        set.Add(i);
                    }
            }
            if (!_holders.TryGetValue(key, out var holders)) return null;
            var topo = _setup.Topology;
            o = OverlayBuilder.Build(key, topo.At(0), holders, _setup.Config.Overlay.Repair && !topo.TimeVarying).Overlay;
            _overlays[key] = o;
            return o;
        }
    }
}
